"""A check-in and another callback to the same elder share one row (one call per person, the
merge rule of hotline.callbacks.service): whichever came first, the answered call takes the
person path (the callee wanted a person), and a person answering confirms the day's check-in.
On a closed line (outside its calling window) they do not share: the check-in call still goes
out in the elder's own window, and the person's callback is held, with the reason on the row
and on the callbacks page, until the line opens and no other call to the elder is under way."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.callbacks.service import request_callback
from hotline.checkins import cascade
from hotline.checkins.models import EpisodeStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Role
from hotline.queue.models import QueueEntry
from hotline.queue.service import Priority
from hotline.timeutil import utcnow
from tests import factories
from tests.callbacks.conftest import placed_call
from tests.checkins.test_console import sign_in

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


# --------------------------------------------------------------------------- the line closed

#: Monday 08:30 in Shanghai: the line's calling window opens after the weekend.
MONDAY_0830 = "2026-12-07 08:30"


def _active(app) -> list[CallbackRequest]:
    with app.app_context():
        rows = db.session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.status.in_((CallbackStatus.PENDING, CallbackStatus.DIALING)))
            .order_by(CallbackRequest.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _held(app) -> CallbackRequest:
    [held] = [row for row in _active(app) if row.held_reason is not None]
    return held


def _answer_ok(app, twilio, episode) -> None:
    """The elder answers the check-in question with 1 (all is well)."""
    call = _call(app, twilio, episode)
    twiml = call.answer(answered_by="human").get_data(as_text=True)
    assert "关爱回访" in twiml and "<Enqueue" not in twiml, "the check-in question"
    action = unescape(re.search(r'<Gather action="([^"]+)"', twiml).group(1))
    assert twilio.post(action, call.params(Digits="1")).status_code == 200
    call.status("completed", 5, duration=40)


@pytest.mark.parametrize("reason", [CallbackReason.OPERATOR, CallbackReason.FAMILY])
@pytest.mark.parametrize("order", ["callback_first", "check_in_first", "while_ringing"])
def test_on_a_closed_line_the_check_in_goes_out_and_the_persons_callback_is_held(
    app, elder, jobs, fake_calls, twilio, clock, order, reason
):
    # Saturday 09:30: the line's calling window is closed (no working day), the elder's open.
    if order == "callback_first":
        _request(app, elder, reason)
    jobs.open_due()
    if order == "check_in_first":
        _request(app, elder, reason)
    placed = len(jobs.dispatch().placed)
    if order == "while_ringing":
        _request(app, elder, reason)
    placed += len(jobs.dispatch().placed)
    assert placed == 1, "one call: the check-in"
    [episode] = episodes(app)
    check_in = _row(app, episode.callback_id)
    assert (check_in.reason, check_in.held_reason) == (CallbackReason.CHECK_IN, None)
    held = _held(app)
    assert held.reason == reason and held.attempts == 0
    assert held.held_reason == (
        "line closed: the elder's check-in call goes first in their own window; "
        f"this callback from {MONDAY_0830}, once no other call to them is under way"
    )
    assert "check-in" not in held.note

    _answer_ok(app, twilio, episode)
    [episode] = episodes(app)
    assert (episode.status, episode.answered_via) == (EpisodeStatus.OK, "key")
    assert _row(app, check_in.id).status == CallbackStatus.DONE
    still = _row(app, held.id)
    assert (still.status, still.attempts) == (CallbackStatus.PENDING, 0), "still owed"
    assert jobs.dispatch().placed == [], "not before the line opens"

    clock.shift(MONDAY)  # Monday 09:30: the line is open, nothing else rings
    assert len(jobs.dispatch().placed) == 1
    call = placed_call(app, twilio, held.id)
    twiml = call.answer(answered_by="human").get_data(as_text=True)
    assert "<Enqueue" in twiml, "the person's callback reaches a person"
    call.status("completed", 5, duration=300)
    done = _row(app, held.id)
    assert done.status == CallbackStatus.DONE and done.held_reason == held.held_reason


def test_the_held_callback_waits_while_the_check_in_beside_it_is_under_way(
    app, elder, jobs, fake_calls, twilio, clock
):
    _request(app, elder, CallbackReason.FAMILY)
    jobs.open_due()
    held = _held(app)
    clock.shift(MONDAY)  # both are due now (the clock was down over the weekend)
    report = jobs.dispatch()
    [episode] = episodes(app)
    assert [c.callback_id for c in report.claimed] == [episode.callback_id], "one at a time"
    assert jobs.dispatch().claimed == [], "not while the check-in rings"
    _call(app, twilio, episode).status("no-answer", 3)
    report = jobs.dispatch()
    assert [c.callback_id for c in report.claimed] == [held.id], "then the person's callback"


def test_a_check_in_waits_while_a_persons_call_to_the_same_number_rings(app, elder, jobs, clock):
    _request(app, elder, CallbackReason.OPERATOR)
    jobs.open_due()
    held = _held(app)
    with app.app_context():  # the person's call started first (the line opened meanwhile)
        db.session.get(CallbackRequest, held.id).status = CallbackStatus.DIALING
        db.session.commit()
    assert jobs.dispatch().claimed == []


def test_further_requests_join_the_held_callback(app, elder, jobs, clock):
    jobs.open_due()
    _request(app, elder, CallbackReason.OPERATOR)
    _request(app, elder, CallbackReason.FAMILY)
    [check_in, held] = _active(app)
    assert check_in.reason == CallbackReason.CHECK_IN
    assert (held.reason, held.note) == (CallbackReason.OPERATOR, "family"), "merged, not a third"


def test_on_an_open_line_a_check_in_after_the_hold_shares_the_persons_call(app, elder, jobs, clock):
    _request(app, elder, CallbackReason.FAMILY)
    jobs.open_due()
    held = _held(app)
    with app.app_context():  # Saturday's check-in is over
        episode = episodes(app)[0]
        db.session.get(CallbackRequest, episode.callback_id).status = CallbackStatus.DONE
        db.session.commit()
    clock.shift(MONDAY)
    with app.app_context():
        from hotline.callbacks.service import request_callback as again

        row = again(
            db.session,
            line_id=elder.line_id,
            phone_number=ELDER_PHONE,
            reason=CallbackReason.CHECK_IN,
            original_arrival_at=utcnow(),
            caller_id=elder.caller_id,
            note="check-in 2026-12-07 #1",
        )
        db.session.commit()
        assert row.id == held.id and row.reason == CallbackReason.FAMILY
    assert [r.id for r in _active(app)] == [held.id]


def test_the_console_shows_why_a_callback_is_held(app, client, elder, jobs, clock):
    _request(app, elder, CallbackReason.FAMILY)
    jobs.open_due()
    held = _held(app)
    with app.app_context():
        sign_in(client, db.session, Role.OPERATOR)
    page = client.get("/console/callbacks").get_data(as_text=True)
    shown = page[page.index(f'id="held-{held.id}"') :][:300]
    assert "Held:" in shown and "line closed: the elder&#39;s check-in call goes first" in shown
    assert f'id="held-{episodes(app)[0].callback_id}"' not in page


R, St = CallbackReason, CallbackStatus


@pytest.mark.parametrize(
    ("shared", "held", "reason", "is_line_closed", "target"),
    [
        # nothing active: a new row, open or closed
        (None, None, R.CHECK_IN, False, None),
        (None, None, R.FAMILY, True, None),
        # the line is open: one call per person, as before
        ((R.CHECK_IN, St.PENDING), None, R.FAMILY, False, "shared"),
        ((R.OPERATOR, St.PENDING), None, R.CHECK_IN, False, "shared"),
        (None, R.FAMILY, R.CHECK_IN, False, "held"),
        (None, R.FAMILY, R.OPERATOR, False, "held"),
        # closed: the check-in goes out in the elder's window, the person's callback is held
        ((R.OPERATOR, St.PENDING), None, R.CHECK_IN, True, "hold_shared"),
        ((R.CHECK_IN, St.PENDING), None, R.FAMILY, True, "new_held"),
        ((R.CHECK_IN, St.DIALING), None, R.FAMILY, True, "new_held"),
        ((R.CHECK_IN, St.PENDING), R.OPERATOR, R.FAMILY, True, "held"),
        (None, R.OPERATOR, R.CHECK_IN, True, None),
        (None, R.OPERATOR, R.FAMILY, True, "held"),
        # closed, but nothing to hold apart: two check-ins, two people's requests, or a
        # person's call already ringing (the check-in joins it)
        ((R.CHECK_IN, St.PENDING), None, R.CHECK_IN, True, "shared"),
        ((R.VOICEMAIL, St.PENDING), None, R.FAMILY, True, "shared"),
        ((R.OPERATOR, St.DIALING), None, R.CHECK_IN, True, "shared"),
    ],
)
def test_the_merge_rule_table(shared, held, reason, is_line_closed, target):
    from hotline.callbacks.service import merge_target

    shared_row = None if shared is None else CallbackRequest(reason=shared[0], status=shared[1])
    held_row = (
        None
        if held is None
        else CallbackRequest(reason=held, status=St.PENDING, held_reason="line closed")
    )
    assert merge_target(shared_row, held_row, reason, is_line_closed=is_line_closed) == target
