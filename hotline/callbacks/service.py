"""Creating callback requests, with the rule that one person is never owed two callbacks."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.callbacks.models import (
    ACTIVE_STATUSES,
    CallbackReason,
    CallbackRequest,
    CallbackStatus,
)
from hotline.phone import mask
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def request_callback(
    session: Session,
    *,
    line_id: int,
    phone_number: str,
    reason: CallbackReason,
    original_arrival_at: datetime,
    due_at: datetime | None = None,
    caller_id: int | None = None,
    origin_call_id: int | None = None,
    requested_by_operator_id: int | None = None,
    language: str | None = None,
    note: str = "",
) -> CallbackRequest:
    """Record that `phone_number` is owed a callback on `line_id`, merging into an active one.

    Merging keeps the earliest original arrival (the caller's place), the earliest due time
    (the sooner promise) and notes both reasons, so the same person is never dialled twice.
    Commits; safe against a concurrent request for the same person (the partial unique index
    decides, and the loser merges).
    """
    due = due_at or utcnow()
    for _attempt in range(3):
        existing = session.scalars(
            select(CallbackRequest).where(
                CallbackRequest.line_id == line_id,
                CallbackRequest.phone_number == phone_number,
                CallbackRequest.status.in_(ACTIVE_STATUSES),
            )
        ).first()
        if existing is not None:
            existing.original_arrival_at = min(existing.original_arrival_at, original_arrival_at)
            if existing.status == CallbackStatus.PENDING:
                existing.due_at = min(existing.due_at, due)
            existing.caller_id = existing.caller_id or caller_id
            existing.requested_by_operator_id = (
                existing.requested_by_operator_id or requested_by_operator_id
            )
            merged = f"{reason.value}" + (f": {note}" if note else "")
            existing.note = f"{existing.note}; also {merged}" if existing.note else merged
            session.commit()
            log.info("callback merged for %s (request %s)", mask(phone_number), existing.id)
            return existing
        row = CallbackRequest(
            line_id=line_id,
            phone_number=phone_number,
            reason=reason,
            status=CallbackStatus.PENDING,
            original_arrival_at=original_arrival_at,
            due_at=due,
            caller_id=caller_id,
            origin_call_id=origin_call_id,
            requested_by_operator_id=requested_by_operator_id,
            language=language,
            note=note,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        log.info("callback requested for %s (%s)", mask(phone_number), reason.value)
        return row
    raise RuntimeError("could not record the callback request after 3 tries")
