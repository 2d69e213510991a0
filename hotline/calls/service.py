"""Call state changes driven by Twilio's status callbacks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hotline.calls.events import CallEnded
from hotline.calls.models import CALL_BY_SID, Call, CallDirection, CallStatus, WebhookEvent
from hotline.events import publish
from hotline.telephony.params import StatusParams
from hotline.telephony.webhooks import BadWebhook
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def apply_status(session: Session, params: StatusParams) -> Call | None:
    """Move the call forward to `params.call_status`; stale and duplicate events change nothing.

    Events may arrive twice or out of order: a status of lower rank than the stored one is
    ignored, and so is an event with a SequenceNumber we have already passed. The first terminal
    event wins (and publishes CallEnded); terminal events that follow only fill in a missing
    duration. Flushes, never commits: the webhook guard commits once.
    """
    try:
        status = CallStatus(params.call_status)
    except ValueError as exc:
        raise BadWebhook(f"unknown CallStatus {params.call_status!r}") from exc
    call = session.scalar(CALL_BY_SID, {"sid": params.call_sid})
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
        return call
    elif status.rank < call.status.rank or (
        params.sequence_number is not None and params.sequence_number <= call.status_sequence
    ):
        log.info("stale status %s for %s ignored", status, call.call_sid)
        return call
    if call.status != status:
        log.info("call %s: %s -> %s", call.call_sid, call.status.value, status.value)
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
        session.flush()
        # The queue notices an abandoned caller, callbacks close promises kept, cases link the
        # call: every subscriber runs here, in this transaction (hotline.app.SUBSCRIPTIONS).
        publish(session, CallEnded(call.id))
    session.flush()
    return call


def delete_webhook_events_before(session: Session, cutoff: datetime) -> int:
    """Delete the stored webhooks received before `cutoff`; returns how many. Flushes."""
    result = session.execute(
        delete(WebhookEvent)
        .where(WebhookEvent.received_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return result.rowcount or 0
