"""The dispatcher: the exact REST request, claims and leases, pacing, the ringing cap, and what
happens when Twilio refuses or throttles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.callbacks.models import AttemptOutcome, CallbackStatus
from hotline.calls.models import Call, CallDirection
from hotline.db import db
from hotline.operators.models import Presence
from hotline.sms.models import SmsMessage

from .conftest import (
    LINE_NUMBER,
    attempts_of,
    create_requests,
    dispatch,
    get_callback,
    number,
)

ACCOUNT = "AC" + "1" * 32


def test_calls_create_request_is_exactly_what_twilio_expects(
    app, clock, make_callback, fake_calls, http_client
):
    callback_id = make_callback(phone_number="+8613123456701")
    report = dispatch(app, ring_timeout_seconds=40)
    assert len(report.placed) == 1
    (request,) = create_requests(http_client)
    attempt = attempts_of(app, callback_id)[0]
    assert request.url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert request.auth == (ACCOUNT, "test-auth-token-0123456789")
    assert request.data == {
        "To": ["+8613123456701"],
        "From": [LINE_NUMBER],
        "Url": [f"http://localhost/twilio/callbacks/answer?attempt={attempt.id}"],
        "StatusCallback": [f"http://localhost/twilio/callbacks/status?attempt={attempt.id}"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": ["POST"],
        "Timeout": ["40"],
        # The machine's greeting is waited out, so a message left on it is heard whole.
        "MachineDetection": ["DetectMessageEnd"],
        # Our answer webhook failing must not play Twilio's "application error".
        "FallbackUrl": ["http://localhost/twilio/voice/fallback"],
        "FallbackMethod": ["POST"],
    }


def test_placing_records_the_call_and_the_attempt(app, clock, make_callback, fake_calls):
    callback_id = make_callback(phone_number=number(3))
    (sid,) = dispatch(app).placed
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.DIALING
    assert callback.attempts == 1 and callback.attempt_call_sid == sid
    assert callback.lease_expires_at is None, "a placed call is no longer at risk of a takeover"
    (attempt,) = attempts_of(app, callback_id)
    assert attempt.call_sid == sid and attempt.claims == 1 and attempt.placed_at is not None
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == sid))
        assert call.direction == CallDirection.OUTBOUND
        assert call.to_number == number(3) and call.from_number == LINE_NUMBER


def test_oldest_promise_is_called_first(app, clock, make_callback, fake_calls, http_client):
    from datetime import datetime

    now = datetime.now().astimezone()
    make_callback(phone_number=number(1), original_arrival_at=now - timedelta(minutes=5))
    make_callback(phone_number=number(2), original_arrival_at=now - timedelta(minutes=50))
    make_callback(phone_number=number(3), original_arrival_at=now - timedelta(minutes=20))
    dispatch(app)
    assert [r.data["To"][0] for r in create_requests(http_client)] == [
        number(2),
        number(3),
        number(1),
    ]


def test_a_callback_not_yet_due_is_left_alone(app, clock, make_callback, fake_calls):
    from hotline.timeutil import utcnow

    make_callback(due_at=utcnow() + timedelta(minutes=10))
    assert dispatch(app).claimed == []
    clock.shift(timedelta(minutes=10))
    assert len(dispatch(app).placed) == 1


def test_a_second_run_does_not_place_a_ringing_callback_again(
    app, clock, make_callback, fake_calls, http_client
):
    make_callback()
    dispatch(app, owner="a")
    clock.shift(timedelta(minutes=30))  # long after any lease: the call is recorded
    assert dispatch(app, owner="b").claimed == []
    assert len(create_requests(http_client)) == 1


# --------------------------------------------------------------------------- pacing


def test_calls_are_paced_per_account_across_dispatchers(
    app, clock, make_callback, fake_calls, http_client
):
    for i in range(3):
        make_callback(phone_number=number(i))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.shift(timedelta(seconds=seconds))

    dispatch(app, owner="a", calls_per_second=1, sleep=sleep, batch_size=2)
    make_callback(phone_number=number(9))
    # A second dispatcher right away shares the same account slots.
    dispatch(app, owner="b", calls_per_second=1, sleep=sleep, batch_size=5)
    times = fake_calls.created_at
    assert len(times) == 4
    gaps = [
        (later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)
    ]
    assert all(gap >= 1.0 for gap in gaps), gaps
    assert slept, "the dispatcher waited for its slot"


def test_two_calls_per_second_means_half_a_second_apart(app, clock, make_callback, fake_calls):
    for i in range(3):
        make_callback(phone_number=number(i))

    def sleep(seconds: float) -> None:
        clock.shift(timedelta(seconds=seconds))

    dispatch(app, calls_per_second=2, sleep=sleep)
    times = fake_calls.created_at
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)] == [0.5, 0.5]


# --------------------------------------------------------------------------- the ringing cap


def test_no_more_callbacks_ring_than_available_operators_plus_margin(
    app, clock, make_callback, make_operator, fake_calls, twilio
):
    from .conftest import placed_call

    for i in range(6):
        make_callback(phone_number=number(i))
    make_operator(presence=Presence.AVAILABLE)
    make_operator(presence=Presence.AVAILABLE)
    make_operator(presence=Presence.BUSY)
    assert len(dispatch(app, ringing_margin=1).placed) == 3
    assert dispatch(app, ringing_margin=1).claimed == [], "three ring already"
    # One of them is not answered: a place frees up.
    with app.app_context():
        from hotline.callbacks.models import CallbackRequest

        first = db.session.scalar(
            select(CallbackRequest).where(CallbackRequest.status == CallbackStatus.DIALING)
        )
        first_id = first.id
    placed_call(app, twilio, first_id).status("no-answer", 3)
    assert len(dispatch(app, ringing_margin=1).placed) == 1


def test_nothing_rings_when_no_operator_is_available(
    app, clock, make_callback, make_operator, fake_calls
):
    make_callback()
    make_operator(presence=Presence.AWAY)
    assert dispatch(app, ringing_margin=1).claimed == []


# --------------------------------------------------------------------------- Twilio says no


def test_an_invalid_number_fails_at_once_and_tells_the_supervisors(
    app, clock, make_callback, make_operator, fake_calls
):
    from hotline.operators.models import Role

    make_operator(role=Role.SUPERVISOR, phone_number="+8613123456780")
    callback_id = make_callback(phone_number="+8613100000000")
    fake_calls.create_error = (
        400,
        {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400},
    )
    report = dispatch(app)
    assert report.rejected == 1 and report.placed == []
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.FAILED
    assert attempts_of(app, callback_id)[0].outcome == AttemptOutcome.REJECTED
    assert attempts_of(app, callback_id)[0].error_code == 21211
    with app.app_context():
        to = sorted(m.to_number for m in db.session.scalars(select(SmsMessage)).all())
    assert "+8613123456780" in to


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (400, 21210)])
def test_throttling_or_our_own_configuration_error_retries_without_counting_a_miss(
    app, clock, make_callback, fake_calls, http_client, status, code
):
    callback_id = make_callback()
    fake_calls.create_error = (status, {"code": code, "message": "no", "status": status})
    report = dispatch(app)
    assert report.placed == [] and report.errors == 1
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.PENDING and callback.attempts == 1
    assert callback.last_outcome == f"twilio_error:{code}"
    fake_calls.create_error = None
    clock.shift(timedelta(minutes=10))
    report = dispatch(app)
    assert len(report.placed) == 1
    callback = get_callback(app, callback_id)
    assert callback.attempts == 1, "the same attempt was placed, not a new one"
    (attempt,) = attempts_of(app, callback_id)
    assert attempt.claims == 2 and attempt.call_sid == report.placed[0]


def test_twilio_server_error_leaves_the_claim_for_a_takeover_that_asks_first(
    app, clock, make_callback, fake_calls, http_client
):
    callback_id = make_callback()
    fake_calls.create_error = (500, {"code": 20500, "message": "oops", "status": 500})
    dispatch(app, owner="a", lease_seconds=60)
    assert get_callback(app, callback_id).status == CallbackStatus.DIALING
    fake_calls.create_error = None
    clock.shift(timedelta(seconds=30))
    assert dispatch(app, owner="b").claimed == [], "the lease still holds"
    clock.shift(timedelta(seconds=31))
    report = dispatch(app, owner="b")
    assert len(report.placed) == 1
    lists = [r for r in http_client.requests if r.method == "GET" and r.url.endswith("/Calls.json")]
    assert lists and lists[0].params["To"] == get_callback(app, callback_id).phone_number
