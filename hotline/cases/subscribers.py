"""The cases feature's event subscribers (listed in hotline.app.SUBSCRIPTIONS). They run in the
publisher's transaction and never commit."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.callbacks import texts as callback_texts
from hotline.callbacks.events import CallbackAttemptEnded
from hotline.callbacks.models import CallbackAttempt, CallbackRequest
from hotline.calls.events import CallEnded
from hotline.calls.models import Call
from hotline.cases.lifecycle import link_ended_call, record_contact
from hotline.cases.models import ContactKind
from hotline.cases.queries import cases_of_callback
from hotline.errors import CaseIsClosed

log = logging.getLogger(__name__)


def on_callback_attempt_ended(session: Session, event: CallbackAttemptEnded) -> None:
    """Subscriber of `CallbackAttemptEnded`: record the attempt on each of the callback's cases
    (the case log shows them all). A closed case is read-only and is skipped. Never commits."""
    callback = session.get(CallbackRequest, event.callback_id)
    attempt = session.get(CallbackAttempt, event.attempt_id)
    if callback is None or attempt is None:
        return
    cases = cases_of_callback(session, callback)
    if not cases:
        return
    call = (
        session.scalar(select(Call).where(Call.call_sid == attempt.call_sid))
        if attempt.call_sid
        else None
    )
    outcome = attempt.outcome.value if attempt.outcome else ""
    note = f"回电第{attempt.number}次:{callback_texts.outcome_label(outcome)} ({outcome})"
    for linked in cases:
        try:
            record_contact(
                session,
                linked,
                kind=ContactKind.CALLBACK_ATTEMPT,
                call_id=call.id if call else None,
                callback_id=callback.id,
                note=note,
            )
        except CaseIsClosed:
            log.info(
                "case %s is closed; callback attempt %s not recorded on it", linked.id, attempt.id
            )


def on_call_ended(session: Session, event: CallEnded) -> None:
    """Subscriber of `CallEnded`: put an inbound call that carried a request on its caller's
    case (see `lifecycle.link_ended_call`). Replaces the call-ended hook once the calls
    records publish the event."""
    call = session.get(Call, event.call_id)
    if call is not None:
        link_ended_call(session, call)
