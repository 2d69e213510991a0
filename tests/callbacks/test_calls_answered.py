"""A placed callback call, through signed webhooks: a person joins the queue, a machine gets a
message, misses are retried by the policy, and status callbacks that arrive twice or out of
order always end in the same state."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.callbacks.models import AttemptOutcome, CallbackReason, CallbackStatus
from hotline.calls.models import Call, CallStatus
from hotline.db import db
from hotline.sms.models import SmsMessage

from .conftest import (
    attempts_of,
    create_requests,
    dispatch,
    get_callback,
    local,
    number,
    placed_call,
)


def _xml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data())


def _spoken(root: ET.Element) -> str:
    return "".join(root.itertext())


def test_a_person_hears_one_slow_sentence_and_joins_the_queue(
    app, clock, make_callback, fake_calls, twilio
):
    callback_id = make_callback(phone_number=number(1))
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    root = _xml(call.answer("human"))
    say = root.find("Say")
    assert say.get("language") == "cmn-CN"
    assert say.find("prosody").get("rate") == "85%"
    assert _spoken(say) == "您好,这里是长者服务热线,给您回电,请不要挂机。"
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "line-main"
    assert [child.tag for child in root] == ["Say", "Enqueue"]
    assert get_callback(app, callback_id).status == CallbackStatus.CONNECTED
    with app.app_context():
        queued = db.session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        assert queued.queued_at is not None, "the caller is in the operator queue"


def test_the_answered_caller_keeps_their_place_and_goes_to_the_operator_who_promised(
    app, clock, make_callback, make_operator, fake_calls, twilio
):
    from hotline.queue.models import QueueEntry
    from hotline.queue.service import Priority
    from hotline.timeutil import utcnow

    operator_id = make_operator()
    arrived = utcnow() - timedelta(minutes=42)
    callback_id = make_callback(
        reason=CallbackReason.OPERATOR,
        original_arrival_at=arrived,
        requested_by_operator_id=operator_id,
    )
    dispatch(app)
    placed_call(app, twilio, callback_id).answer("human")
    with app.app_context():
        entry = db.session.scalars(select(QueueEntry)).one()
        assert entry.priority == Priority.CALLBACK
        assert entry.arrived_at == arrived, "ordered by the original arrival, not the callback"
        assert entry.preferred_operator_id == operator_id
        assert entry.callback_request_id == callback_id


def test_unknown_answerer_is_treated_as_a_person(app, clock, make_callback, fake_calls, twilio):
    callback_id = make_callback()
    dispatch(app)
    root = _xml(placed_call(app, twilio, callback_id).answer("unknown"))
    assert root.find("Enqueue") is not None


def test_cantonese_caller_is_greeted_in_cantonese(app, clock, make_callback, fake_calls, twilio):
    callback_id = make_callback(language="yue-HK")
    dispatch(app)
    root = _xml(placed_call(app, twilio, callback_id).answer("human"))
    assert root.find("Say").get("language") == "yue-CN"
    assert "覆电俾您" in _spoken(root)


def test_a_machine_gets_our_number_and_the_attempt_counts(
    app, clock, make_callback, fake_calls, twilio
):
    callback_id = make_callback()
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    root = _xml(call.answer("machine_start"))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    spoken = _spoken(root)
    assert "长者服务热线" in spoken and "010" in spoken and "5678" in spoken
    digits = root.findall("Say/prosody/say-as")
    assert all(d.get("interpret-as") == "digits" for d in digits) and digits
    call.status("completed", 3, duration=12)
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.PENDING
    assert callback.last_outcome == AttemptOutcome.MACHINE.value
    assert callback.attempts == 1
    assert callback.due_at == local(2025, 3, 4, 10, 30)


def test_a_fax_is_hung_up_on(app, clock, make_callback, fake_calls, twilio):
    callback_id = make_callback()
    dispatch(app)
    root = _xml(placed_call(app, twilio, callback_id).answer("fax"))
    assert [child.tag for child in root] == ["Hangup"]


def test_a_connected_call_that_ends_completes_the_callback(
    app, clock, make_callback, fake_calls, twilio
):
    callback_id = make_callback()
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    call.status("initiated", 0)
    call.status("ringing", 1)
    call.answer("human")
    call.status("in-progress", 2)
    call.status("completed", 3, duration=600)
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.DONE
    assert callback.completed_at is not None and callback.lease_expires_at is None
    (attempt,) = attempts_of(app, callback_id)
    assert attempt.outcome == AttemptOutcome.PERSON and attempt.duration_seconds == 600


def test_misses_follow_the_policy_and_the_last_one_tells_everyone(
    app, clock, make_callback, make_operator, fake_calls, twilio, make_caller
):
    from hotline.operators.models import Role

    make_operator(role=Role.SUPERVISOR, phone_number="+8613123456780", console_language="zh")
    make_operator(role=Role.SUPERVISOR, phone_number="+8613123456781", console_language="en")
    make_operator(role=Role.SUPERVISOR, phone_number=None)
    make_operator(role=Role.OPERATOR, phone_number="+8613123456782")
    caller_id = make_caller(phone_number=number(5), display_name="王阿姨")
    callback_id = make_callback(phone_number=number(5), caller_id=caller_id)
    # The line's default: the call when due, then +30 min, +2 h and the next working morning.
    outcomes = [("busy", None), ("no-answer", None), ("no-answer", None), ("no-answer", None)]
    expected_due = [
        local(2025, 3, 4, 10, 30),
        local(2025, 3, 4, 12, 30),
        local(2025, 3, 5, 8, 30),
    ]
    for n, (status, _extra) in enumerate(outcomes, start=1):
        assert len(dispatch(app).placed) == 1, f"attempt {n} placed"
        placed_call(app, twilio, callback_id).status(status, 3)
        callback = get_callback(app, callback_id)
        if n < len(outcomes):
            assert callback.status == CallbackStatus.PENDING
            assert callback.due_at == expected_due[n - 1]
            clock.move_to(callback.due_at - timedelta(minutes=1))
            assert dispatch(app).claimed == [], "not before the retry is due"
            clock.move_to(callback.due_at)
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.FAILED and callback.attempts == 4
    assert [a.outcome for a in attempts_of(app, callback_id)] == [
        AttemptOutcome.BUSY,
        AttemptOutcome.NO_ANSWER,
        AttemptOutcome.NO_ANSWER,
        AttemptOutcome.NO_ANSWER,
    ]
    with app.app_context():
        texts = {m.to_number: m for m in db.session.scalars(select(SmsMessage)).all()}
    assert set(texts) == {number(5), "+8613123456780", "+8613123456781"}
    to_caller = texts[number(5)]
    assert to_caller.purpose.value == "callback_failed"
    assert to_caller.body.startswith("3月4日09:55"), to_caller.body
    assert len(to_caller.body) <= 70 and "http" not in to_caller.body
    assert "01012345678" in to_caller.body
    assert texts["+8613123456780"].purpose.value == "supervisor_alert"
    assert "王阿姨" in texts["+8613123456780"].body
    assert texts["+8613123456781"].body.startswith("04 Mar 09:55: callback failed")
    # Nothing more is placed for a failed callback.
    clock.shift(timedelta(days=1))
    assert dispatch(app).claimed == []


def test_final_failure_tells_a_consented_family_contact_only(
    app, clock, make_callback, fake_calls, twilio, make_caller, make_operator
):
    from hotline.callers.models import ConsentMethod, FamilyContact

    operator_id = make_operator()
    caller_id = make_caller(phone_number=number(6), display_name="陈伯")
    with app.app_context():
        from hotline.timeutil import utcnow

        db.session.add_all(
            [
                FamilyContact(
                    caller_id=caller_id,
                    name="女儿",
                    phone_number="+8613900000001",
                    may_receive_alerts=True,
                    consented_at=utcnow(),
                    consent_method=list(ConsentMethod)[0],
                    consent_recorded_by=operator_id,
                ),
                FamilyContact(
                    caller_id=caller_id,
                    name="儿子 (no consent)",
                    phone_number="+8613900000002",
                    may_receive_alerts=True,
                ),
                FamilyContact(
                    caller_id=caller_id,
                    name="侄子 (consented, but not to alerts)",
                    phone_number="+8613900000003",
                    may_receive_alerts=False,
                    consented_at=utcnow(),
                    consent_method=list(ConsentMethod)[0],
                    consent_recorded_by=operator_id,
                ),
            ]
        )
        db.session.commit()
    callback_id = make_callback(phone_number=number(6), caller_id=caller_id)
    with app.app_context():
        from hotline.callbacks.models import CallbackRequest

        db.session.get(CallbackRequest, callback_id).max_attempts = 1
        db.session.commit()
    dispatch(app)
    placed_call(app, twilio, callback_id).status("no-answer", 3)
    with app.app_context():
        family = db.session.scalars(
            select(SmsMessage).where(SmsMessage.purpose == "family_alert")
        ).all()
    assert [m.to_number for m in family] == ["+8613900000001"]
    assert "陈伯" in family[0].body and len(family[0].body) <= 70


def test_the_case_number_comes_first_when_there_is_a_case(
    app, clock, make_callback, fake_calls, twilio
):
    from hotline.cases.models import Case

    with app.app_context():
        case = Case(number="20250304-0042", scenario="medical")
        db.session.add(case)
        db.session.commit()
        case_id = case.id
    callback_id = make_callback(case_id=case_id)
    with app.app_context():
        from hotline.callbacks.models import CallbackRequest

        db.session.get(CallbackRequest, callback_id).max_attempts = 1
        db.session.commit()
    dispatch(app)
    placed_call(app, twilio, callback_id).status("busy", 3)
    with app.app_context():
        sms = db.session.scalar(select(SmsMessage).where(SmsMessage.purpose == "callback_failed"))
    assert sms.body.startswith("工单20250304-0042:")
    assert sms.case_id == case_id
    from hotline.cases.models import CaseContact

    with app.app_context():  # the case records each attempt
        contacts = db.session.scalars(
            select(CaseContact).where(CaseContact.case_id == case_id)
        ).all()
    assert [(c.kind.value, c.callback_id) for c in contacts] == [("callback_attempt", callback_id)]
    assert "占线" in contacts[0].note


# --------------------------------------------------------------------------- order and duplicates

ANSWERED_EVENTS = [("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3)]
MISSED_EVENTS = [("initiated", 0), ("ringing", 1), ("no-answer", 2)]


def _end_state(app, callback_id):
    callback = get_callback(app, callback_id)
    attempts = [(a.number, a.outcome, a.call_status) for a in attempts_of(app, callback_id)]
    return (callback.status, callback.attempts, callback.due_at, callback.last_outcome, attempts)


def _run_events(app, twilio, callback_id, events, *, answer: bool):
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    if answer:
        call.answer("human")
    for status, sequence in events:
        extra = {"AnsweredBy": "human"} if status in ("in-progress", "completed") and answer else {}
        call.status(status, sequence, duration=60 if status == "completed" else None, **extra)
    return call


@pytest.mark.parametrize("answer", [True, False], ids=["answered", "missed"])
def test_duplicate_and_out_of_order_status_callbacks_end_in_the_same_state(
    app, clock, make_callback, fake_calls, twilio, answer
):
    base = ANSWERED_EVENTS if answer else MISSED_EVENTS
    orders = list(itertools.permutations(base))
    rng = random.Random(5)
    states = set()
    for i, order in enumerate(orders):
        events = list(order)
        # every event may also come twice, anywhere
        events += rng.sample(events, k=len(events))
        callback_id = make_callback(phone_number=number(100 + i))
        _run_events(app, twilio, callback_id, events, answer=answer)
        status, attempts, due, last, attempt_rows = _end_state(app, callback_id)
        states.add((status, attempts, due, last, tuple(attempt_rows)))
    assert len(states) == 1, states
    (status, attempts, _due, last, rows) = states.pop()
    if answer:
        assert status == CallbackStatus.DONE and last == "person"
        assert rows == ((1, AttemptOutcome.PERSON, CallStatus.COMPLETED.value),)
    else:
        assert status == CallbackStatus.PENDING and last == "no_answer" and attempts == 1
        assert rows == ((1, AttemptOutcome.NO_ANSWER, CallStatus.NO_ANSWER.value),)


def test_an_identical_retry_of_a_status_callback_is_answered_from_the_record(
    app, clock, make_callback, fake_calls, twilio
):
    callback_id = make_callback()
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    call.status("busy", 2)
    call.status("busy", 2)
    with app.app_context():
        from hotline.calls.models import WebhookEvent

        count = db.session.scalar(
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.kind == "callback_status")
        )
    assert count == 1
    assert get_callback(app, callback_id).attempts == 1
    assert len(attempts_of(app, callback_id)) == 1


def test_status_for_an_unknown_attempt_changes_nothing(app, clock, twilio):
    from .conftest import CallbackCall

    CallbackCall(twilio, 999, "CA" + "f" * 32, number(1)).status("completed", 3)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 0


def test_callback_webhooks_reject_unsigned_requests(app, clock, make_callback, fake_calls, twilio):
    callback_id = make_callback()
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    response = twilio.post(
        f"/twilio/callbacks/answer?attempt={call.attempt_id}", call.params(), signature=""
    )
    assert response.status_code == 403
    response = twilio.post(
        f"/twilio/callbacks/status?attempt={call.attempt_id}",
        call.params(CallStatus="completed"),
        signature="bm90IGEgc2lnbmF0dXJl",
    )
    assert response.status_code == 403
    assert get_callback(app, callback_id).status == CallbackStatus.DIALING


def test_missing_attempt_parameter_is_a_400(app, twilio):
    from .conftest import CallbackCall

    call = CallbackCall(twilio, 0, "CA" + "e" * 32, number(1))
    response = twilio.post("/twilio/callbacks/status", call.params(CallStatus="completed"))
    assert response.status_code == 400


# --------------------------------------------------------------------------- the dispatcher died


def test_first_status_callback_records_a_call_the_dispatcher_never_wrote_down(
    app, clock, make_callback, fake_calls, twilio, http_client
):
    """The dispatcher placed the call and died before recording it: the status callback,
    whose URL names the attempt, ties the call to it, so no takeover dials again."""
    callback_id = make_callback()

    class Died(Exception):
        pass

    from hotline.callbacks import dispatcher as dispatcher_module

    original = dispatcher_module.Dispatcher._record_placed

    def die(self, *args, **kwargs):
        raise Died

    dispatcher_module.Dispatcher._record_placed = die
    try:
        report = dispatch(app, owner="doomed", lease_seconds=60)
    finally:
        dispatcher_module.Dispatcher._record_placed = original
    assert report.errors == 1
    (sid,) = fake_calls.sids()
    attempt = attempts_of(app, callback_id)[0]
    assert attempt.call_sid is None
    from .conftest import CallbackCall

    CallbackCall(twilio, attempt.id, sid, number(1)).status("initiated", 0)
    clock.shift(timedelta(minutes=5))
    assert dispatch(app, owner="next").claimed == []
    assert len(create_requests(http_client)) == 1
    assert get_callback(app, callback_id).attempt_call_sid == sid


def test_takeover_adopts_a_call_twilio_already_has(
    app, clock, make_callback, fake_calls, twilio, http_client
):
    """Placed, then died, and no status callback came either: the next dispatcher asks
    Twilio, finds the call, and adopts it instead of dialling again."""
    callback_id = make_callback()
    from hotline.callbacks import dispatcher as dispatcher_module

    original = dispatcher_module.Dispatcher._record_placed
    dispatcher_module.Dispatcher._record_placed = lambda self, *a, **k: (_ for _ in ()).throw(
        RuntimeError("killed")
    )
    try:
        dispatch(app, owner="doomed", lease_seconds=60)
    finally:
        dispatcher_module.Dispatcher._record_placed = original
    clock.shift(timedelta(seconds=61))
    report = dispatch(app, owner="next")
    assert report.placed == [] and report.adopted == fake_calls.sids()
    assert len(create_requests(http_client)) == 1
    callback = get_callback(app, callback_id)
    assert callback.attempt_call_sid == fake_calls.sids()[0] and callback.attempts == 1


# --------------------------------------------------------------------------- the caller calls in


def test_a_caller_who_reaches_a_person_themselves_is_not_called_back(
    app, clock, make_callback, make_caller
):
    from hotline.callbacks.service import caller_reached_a_person
    from hotline.calls.events import CallEnded
    from hotline.calls.models import CallDirection
    from hotline.lines.models import Line
    from hotline.timeutil import utcnow

    abandoned = make_callback(phone_number=number(7), reason=CallbackReason.ABANDONED)
    with app.app_context():
        line = db.session.scalar(select(Line))
        call = Call(
            call_sid="CA" + "7" * 32,
            line_id=line.id,
            direction=CallDirection.INBOUND,
            status=CallStatus.COMPLETED,
            from_number=number(7),
            answered_at=utcnow(),
            menu_path=[],
        )
        db.session.add(call)
        db.session.flush()
        db.session.flush()
        caller_reached_a_person(db.session, CallEnded(call.id))
        db.session.commit()
    callback = get_callback(app, abandoned)
    assert callback.status == CallbackStatus.DONE
    assert callback.last_outcome == "caller_called_in"


def test_a_follow_up_stays_even_when_the_caller_rings_in(app, clock, make_callback):
    from hotline.callbacks.service import caller_reached_a_person
    from hotline.calls.events import CallEnded
    from hotline.calls.models import CallDirection
    from hotline.lines.models import Line
    from hotline.timeutil import utcnow

    follow_up = make_callback(phone_number=number(8), reason=CallbackReason.FOLLOW_UP)
    with app.app_context():
        line = db.session.scalar(select(Line))
        call = Call(
            call_sid="CA" + "8" * 32,
            line_id=line.id,
            direction=CallDirection.INBOUND,
            status=CallStatus.COMPLETED,
            from_number=number(8),
            answered_at=utcnow(),
            menu_path=[],
        )
        db.session.add(call)
        db.session.flush()
        caller_reached_a_person(db.session, CallEnded(call.id))
        db.session.commit()
    assert get_callback(app, follow_up).status == CallbackStatus.PENDING


def test_an_answered_caller_who_gives_up_in_the_queue_is_owed_a_new_callback(
    app, clock, make_callback, fake_calls, twilio
):
    """Reached, but hung up while waiting for an operator: the queue owes them a callback
    again, still ordered by their first arrival, so the promise is not lost."""
    from hotline.timeutil import utcnow

    arrived = utcnow() - timedelta(minutes=30)
    first = make_callback(phone_number=number(4), original_arrival_at=arrived)
    dispatch(app)
    call = placed_call(app, twilio, first)
    call.answer("human")
    clock.shift(timedelta(seconds=45))
    call.status("completed", 3, duration=50)
    assert get_callback(app, first).status == CallbackStatus.DONE
    with app.app_context():
        from hotline.callbacks.models import CallbackRequest

        again = db.session.scalars(
            select(CallbackRequest).where(CallbackRequest.status == CallbackStatus.PENDING)
        ).one()
        assert again.phone_number == number(4) and again.reason == CallbackReason.ABANDONED
        assert again.original_arrival_at == arrived
