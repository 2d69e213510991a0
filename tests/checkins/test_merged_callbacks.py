"""A check-in and another callback to the same elder share one row (one call per person, the
merge rule of hotline.callbacks.service): whichever came first, the answered call takes the
person path (the callee wanted a person), and a person answering confirms the day's check-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.callbacks.service import request_callback
from hotline.checkins import cascade
from hotline.checkins.models import EpisodeStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.queue.models import QueueEntry
from hotline.queue.service import Priority
from hotline.timeutil import utcnow
from tests import factories

from .conftest import ELDER_PHONE, episodes
from .test_call_and_cascade import _call

#: Monday 09:30 (the clock fixture's Saturday + 2 days): inside the line's calling window.
MONDAY = timedelta(days=2)


def _request(app, elder, reason: CallbackReason) -> int | None:
    """Another callback to the elder: scheduled by an operator, or asked for by the family."""
    with app.app_context():
        operator_id = None
        if reason == CallbackReason.OPERATOR:
            operator_id = factories.make_operator(db.session, "operator-callback").id
        request_callback(
            db.session,
            line_id=elder.line_id,
            phone_number=ELDER_PHONE,
            reason=reason,
            original_arrival_at=utcnow() - timedelta(minutes=30),
            caller_id=elder.caller_id,
            requested_by_operator_id=operator_id,
        )
        db.session.commit()
        return operator_id


def _row(app, callback_id: int) -> CallbackRequest:
    with app.app_context():
        row = db.session.get(CallbackRequest, callback_id)
        db.session.expunge(row)
        return row


@pytest.mark.parametrize("reason", [CallbackReason.OPERATOR, CallbackReason.FAMILY])
@pytest.mark.parametrize("order", ["callback_first", "check_in_first", "while_ringing"])
def test_the_merged_call_takes_the_person_path_and_confirms_the_check_in(
    app, elder, jobs, fake_calls, twilio, clock, order, reason
):
    clock.shift(MONDAY)
    operator_id = None
    if order == "callback_first":
        operator_id = _request(app, elder, reason)
    jobs.open_due()
    if order == "check_in_first":
        operator_id = _request(app, elder, reason)
    jobs.dispatch()
    if order == "while_ringing":
        operator_id = _request(app, elder, reason)
    [episode] = episodes(app)
    row = _row(app, episode.callback_id)
    assert row.reason == reason, "the person's request decides how the call is answered"
    assert "check-in" in row.note
    with app.app_context():
        assert row.max_attempts == db.session.get(Line, elder.line_id).callback_max_attempts
        assert (
            db.session.scalar(select(CallbackRequest.id).where(CallbackRequest.id != row.id))
            is None
        )

    call = _call(app, twilio, episode)
    twiml = call.answer(answered_by="human").get_data(as_text=True)
    assert "<Enqueue" in twiml and "关爱回访" not in twiml, "no check-in question"
    with app.app_context():
        entry = db.session.scalar(select(QueueEntry))
        assert (entry.priority, entry.callback_request_id) == (Priority.CALLBACK, row.id)
        assert entry.preferred_operator_id == operator_id
    call.status("completed", 5, duration=300)
    [episode] = episodes(app)
    assert (episode.status, episode.answered_via) == (EpisodeStatus.OK, "operator")
    assert _row(app, row.id).status == CallbackStatus.DONE


def test_a_taken_over_check_in_unanswered_keeps_the_persons_promise(
    app, elder, jobs, fake_calls, twilio, clock
):
    clock.shift(MONDAY)
    jobs.open_due()
    _request(app, elder, CallbackReason.OPERATOR)
    jobs.dispatch()
    [episode] = episodes(app)
    _call(app, twilio, episode).status("no-answer", 3)
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.MISSED, "a missed check-in, retried per the enrolment"
    row = _row(app, episode.callback_id)
    assert (row.status, row.attempts) == (CallbackStatus.PENDING, 1), (
        "the operator's callback is tried again per the line's policy, not given up"
    )


def test_the_elder_calling_in_does_not_close_a_persons_callback_holding_the_check_in(
    app, elder, jobs, clock
):
    clock.shift(MONDAY)
    _request(app, elder, CallbackReason.OPERATOR)
    jobs.open_due()
    [episode] = episodes(app)
    with app.app_context():
        cascade.elder_called_in(db.session, elder.caller_id, elder.line_id, via="key")
        db.session.commit()
    assert episodes(app)[0].status == EpisodeStatus.OK
    assert _row(app, episode.callback_id).status == CallbackStatus.PENDING, (
        "the operator still owes the elder a call"
    )


def test_the_elder_calling_in_cancels_a_check_in_call_not_yet_dialled(app, elder, jobs, clock):
    jobs.open_due()
    [episode] = episodes(app)
    with app.app_context():
        cascade.elder_called_in(db.session, elder.caller_id, elder.line_id, via="key")
        db.session.commit()
    row = _row(app, episode.callback_id)
    assert (row.status, row.last_outcome) == (CallbackStatus.DONE, "caller_called_in")
