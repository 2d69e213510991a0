"""Call state changes driven by Twilio's status callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.calls.models import Call, CallDirection, CallStatus
from hotline.telephony.params import StatusParams
from hotline.telephony.webhooks import BadWebhook
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def add_call_ended_hook(app: Flask, hook: Callable[[Session, Call], None]) -> None:
    """Call `hook(session, call)` whenever a call reaches a terminal status (it must not commit).

    Features register here from their blueprint module's `init_app(app)`, e.g. the queue to
    notice an abandoned caller and the callbacks to count a failed attempt.
    """
    hooks = app.extensions.setdefault("hotline.call_ended_hooks", [])
    if hook not in hooks:
        hooks.append(hook)


def apply_status(session: Session, params: StatusParams) -> Call | None:
    """Move the call forward to `params.call_status`; stale and duplicate events change nothing.

    Events may arrive twice or out of order: a status of lower rank than the stored one is
    ignored, and so is an event with a SequenceNumber we have already passed. The first terminal
    event wins; terminal events that follow only fill in a missing duration.
    """
    try:
        status = CallStatus(params.call_status)
    except ValueError as exc:
        raise BadWebhook(f"unknown CallStatus {params.call_status!r}") from exc
    call = session.scalar(select(Call).where(Call.call_sid == params.call_sid))
    if call is None:
        # A call we never saw a webhook for (e.g. an operator leg placed by the REST API
        # before our row was written): keep a record so nothing goes unaccounted for.
        call = Call(
            call_sid=params.call_sid,
            direction=CallDirection.OUTBOUND,
            status=status,
            # Set here, not left to the column default: it is compared below before any flush.
            status_sequence=-1,
            menu_path=[],
        )
        session.add(call)
    elif call.status.is_terminal:
        if call.duration_seconds is None and params.duration_seconds is not None:
            call.duration_seconds = params.duration_seconds
        session.commit()
        return call
    elif status.rank < call.status.rank or (
        params.sequence_number is not None and params.sequence_number <= call.status_sequence
    ):
        log.info("stale status %s for %s ignored", status, call.call_sid)
        session.commit()
        return call
    call.status = status
    if params.sequence_number is not None:
        call.status_sequence = max(call.status_sequence, params.sequence_number)
    if status.is_terminal:
        now = utcnow()
        call.ended_at = now
        if params.duration_seconds is not None:
            call.duration_seconds = params.duration_seconds
        elif call.created_at is not None:
            call.duration_seconds = int((now - call.created_at) / timedelta(seconds=1))
        for hook in current_app.extensions.get("hotline.call_ended_hooks", []):
            hook(session, call)
    session.commit()
    return call
