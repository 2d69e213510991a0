"""Who receives the staff texts (alerts, the daily summary) and whose texts may use the
supervisor commands: the one definition, read by the SMS allowlist and by hotline.alerts.

Each line names its own recipients (`LineRecipient`: the daily summary and which alert kinds,
set under Lines in the console or with `flask lines recipients`). A line that names nobody
falls back to the deployment-wide rule: every active supervisor and admin with a phone number
(the readiness check says so).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.lines.models import LineRecipient
from hotline.operators.models import Operator, Role

#: `recipients_for`'s kind for the daily summary (the others are AlertKind values).
DAILY_SUMMARY = "daily_summary"


def _reachable():
    return select(Operator).where(
        Operator.is_active,
        Operator.role.in_((Role.SUPERVISOR, Role.ADMIN)),
        Operator.phone_number.is_not(None),
        Operator.phone_number != "",
    )


def supervisors_to_alert(session: Session) -> list[Operator]:
    """Active supervisors and admins with a phone number, by id: the fallback recipients, and
    who may use the supervisor commands."""
    return list(session.scalars(_reachable().order_by(Operator.id)))


def recipients_for(session: Session, line_id: int | None, kind: str) -> list[Operator]:
    """Who is texted about `kind` (an AlertKind value, or DAILY_SUMMARY) on line `line_id`.

    The line's named recipients who asked for that kind; everyone in `supervisors_to_alert`
    when the line names nobody. An alert that concerns no line goes to everyone any line names
    for that kind (or, when no line names anyone, the fallback).
    """
    rows = select(LineRecipient)
    if line_id is not None:
        rows = rows.where(LineRecipient.line_id == line_id)
    named = list(session.scalars(rows))
    if not named:
        return supervisors_to_alert(session)
    wanted = {
        r.operator_id
        for r in named
        if (r.gets_daily_summary if kind == DAILY_SUMMARY else kind in r.kinds)
    }
    if not wanted:
        return []
    return list(session.scalars(_reachable().where(Operator.id.in_(wanted)).order_by(Operator.id)))


def supervisor_by_number(session: Session, number: str) -> Operator | None:
    """The alert recipient texting from `number` (may use the supervisor commands), or None."""
    return next((op for op in supervisors_to_alert(session) if op.phone_number == number), None)
