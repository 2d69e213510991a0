"""Operator presence changes (the queue console extends this module)."""

from __future__ import annotations

from hotline.db import db
from hotline.operators.models import Operator, Presence
from hotline.timeutil import utcnow


def signed_out(operator_id: int) -> None:
    """An operator signed out: offline at once."""
    operator = db.session.get(Operator, operator_id)
    if operator is not None:
        operator.presence = Presence.OFFLINE
        operator.presence_changed_at = utcnow()
        db.session.commit()
