"""Who receives the staff texts (alerts, the daily summary) and whose texts may use the
supervisor commands: the one definition, read by the SMS allowlist and by hotline.alerts.

Active supervisors and admins with a phone number. (Before the architecture issue the callbacks
feature alerted supervisors only, a second, narrower copy of this rule.)
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.operators.models import Operator, Role


def supervisors_to_alert(session: Session) -> list[Operator]:
    """Active supervisors and admins with a phone number, by id: who gets alerts and summaries."""
    return list(
        session.scalars(
            select(Operator)
            .where(
                Operator.is_active,
                Operator.role.in_((Role.SUPERVISOR, Role.ADMIN)),
                Operator.phone_number.is_not(None),
                Operator.phone_number != "",
            )
            .order_by(Operator.id)
        )
    )


def supervisor_by_number(session: Session, number: str) -> Operator | None:
    """The alert recipient texting from `number` (may use the supervisor commands), or None."""
    return next((op for op in supervisors_to_alert(session) if op.phone_number == number), None)
