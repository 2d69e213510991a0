"""Toll fraud by callback: every outbound call and text passes one number policy.

Through the real paths (signed webhooks, the console, the dispatcher with the real twilio SDK
behind the recording http_client): callback requests to foreign, premium-rate or satellite
numbers are recorded as refused with their reason and never dialled (0 Calls.create requests),
the policy is asked again at dispatch, daily call caps defer to the next day's calling window,
an operator's phone leg is checked too, and the gateway itself refuses as the last line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hotline.callbacks.models import (
    AttemptOutcome,
    CallbackReason,
    CallbackRequest,
    CallbackStatus,
)
from hotline.callbacks.settings import CallbackSettings
from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.operators.models import Operator, Presence, Role
from hotline.queue.models import QueueEntry, QueueStatus
from hotline.sms.models import SmsDirection, SmsMessage, SmsStatus
from hotline.telephony.gateway import get_gateway
from tests import factories
from tests.callbacks.conftest import (
    FakeCalls,
    attempts_of,
    create_requests,
    dispatch,
    get_callback,
    local,
    login,
    number,
    placed_call,
)
from tests.callbacks.conftest import clock as clock  # noqa: F401 - fixtures
from tests.callbacks.conftest import fake_calls as fake_calls  # noqa: F401
from tests.callbacks.conftest import make_callback as make_callback  # noqa: F401
from tests.callbacks.conftest import make_operator as make_operator  # noqa: F401
from tests.operator_queue.queue_support import login as console_login
from tests.operator_queue.queue_support import queue_exit, reach_queue

UK_MOBILE = "+447700900123"
NIGERIA = "+2348031234567"
SATELLITE = "+881612345678"
SHARED_COST = "+864001234567"  # China's 400 numbers: the caller's side pays
#: Monday 2 March 2026, 10:00 in Shanghai (the line is open and inside its calling window).
MONDAY_10AM = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def app_config(app_config):
    """Callbacks are placed at once (no pacing, no ringing cap), as in tests/callbacks."""
    app_config.update({"CALLBACK_CALLS_PER_SECOND": 0, "CALLBACK_RINGING_MARGIN": None})
    return app_config


def _callbacks(app) -> list[CallbackRequest]:
    with app.app_context():
        rows = list(db.session.scalars(select(CallbackRequest).order_by(CallbackRequest.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _refusal_audits(app) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "callback", AuditEntry.action == "refused"
                )
            )
        )


def test_a_text_asking_for_a_callback_from_abroad_is_refused_with_its_reason_and_never_dialled(
    app, twilio, http_client, fake_calls: FakeCalls
):
    from tests.sms.fixtures import sms_params

    with time_machine.travel(MONDAY_10AM, tick=False):
        response = twilio.post("/twilio/sms", sms_params("回电", from_=UK_MOBILE))
        assert response.status_code == 200
        report = dispatch(app)
    [callback] = _callbacks(app)
    assert (callback.status, callback.reason) == (CallbackStatus.REFUSED, CallbackReason.SMS)
    assert callback.refusal_reason == "country code +44 is not allowed (allowed: +86)"
    assert callback.phone_number == UK_MOBILE and callback.attempts == 0
    assert report.claimed == [] and create_requests(http_client) == [], "0 calls placed"
    [entry] = _refusal_audits(app)
    assert entry.after["refusal_reason"] == callback.refusal_reason
    assert UK_MOBILE not in str(entry.after), "the trail keeps the number masked"
    with app.app_context():
        texts = db.session.scalars(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.OUTBOUND)
        ).all()
        assert all(t.status == SmsStatus.REFUSED for t in texts), "no text goes abroad either"
    assert http_client.find("POST", "/Messages.json") == []


def test_a_foreign_caller_who_abandons_the_queue_is_recorded_refused_not_called_back(
    app, twilio, http_client, fake_calls: FakeCalls
):
    with time_machine.travel(MONDAY_10AM, tick=False) as clock:
        queued = reach_queue(twilio, app, from_=NIGERIA)
        clock.shift(25)
        assert queue_exit(twilio, queued, "hangup", queue_time=25).status_code == 200
        http_client.requests.clear()
        for _run in range(4):  # the clock runs again and again: still nothing is dialled
            dispatch(app)
            clock.shift(3600)
    [callback] = _callbacks(app)
    assert (callback.status, callback.reason) == (CallbackStatus.REFUSED, CallbackReason.ABANDONED)
    assert callback.refusal_reason == "country code +234 is not allowed (allowed: +86)"
    assert create_requests(http_client) == []


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        (SATELLITE, "+881 is a satellite or non-geographic network"),
        (SHARED_COST, "shared-cost number"),
        ("+14155550100", "country code +1 is not allowed (allowed: +86)"),
    ],
)
def test_a_callback_scheduled_on_the_console_to_a_costly_number_is_refused_and_said_so(
    app, client, make_operator, http_client, fake_calls: FakeCalls, clock, typed, reason
):
    operator_id = make_operator(role=Role.OPERATOR)
    login(client, operator_id)
    response = client.post(
        "/console/callbacks/schedule", data={"phone_number": typed, "note": "请回电"}
    )
    assert response.status_code == 302
    [callback] = _callbacks(app)
    assert (callback.status, callback.refusal_reason) == (CallbackStatus.REFUSED, reason)
    page = client.get("/console/callbacks").get_data(as_text=True)
    assert reason in page, "the operator is told why no callback was scheduled"
    dispatch(app)
    assert create_requests(http_client) == []


def test_the_policy_is_asked_again_just_before_dialling(
    app, make_callback, http_client, fake_calls: FakeCalls, clock
):
    callback_id = make_callback(phone_number=number(1))
    assert get_callback(app, callback_id).status == CallbackStatus.PENDING
    app.config["OUTBOUND_ALLOWED_COUNTRY_CODES"] = (852,)  # the policy changed meanwhile
    report = dispatch(app)
    assert report.refused == 1 and report.placed == []
    assert create_requests(http_client) == [], "no REST call"
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.REFUSED
    assert callback.refusal_reason == "country code +86 is not allowed (allowed: +852)"
    [attempt] = attempts_of(app, callback_id)
    assert attempt.outcome == AttemptOutcome.REJECTED and attempt.call_sid is None
    assert [e.after["at"] for e in _refusal_audits(app)] == ["dispatch"]
    assert dispatch(app).claimed == [], "a refused callback is never claimed again"


def test_the_daily_call_cap_per_number_defers_to_the_next_days_calling_window(
    app, twilio, make_callback, http_client, fake_calls: FakeCalls, clock
):
    callback_id = make_callback(phone_number=number(1))
    assert len(dispatch(app, call_daily_cap_per_number=1).placed) == 1
    placed_call(app, twilio, callback_id).status("no-answer", 1)
    clock.move_to(local(2025, 3, 4, 14))  # the 30-minute retry is long due
    report = dispatch(app, call_daily_cap_per_number=1)
    assert report.placed == [] and report.deferred == 1
    assert len(create_requests(http_client)) == 1, "no second call today"
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.PENDING, "deferred, not refused: still a promise"
    assert callback.last_outcome == "deferred: daily cap of 1 calls to this number reached"
    opening = local(2025, 3, 5, 8, 30)
    assert callback.due_at.astimezone(UTC) == opening.astimezone(UTC)
    clock.move_to(opening + timedelta(minutes=1))
    assert len(dispatch(app, call_daily_cap_per_number=1).placed) == 1, "tomorrow it is called"


def test_the_daily_call_cap_per_line_defers_the_rest(
    app, make_callback, http_client, fake_calls: FakeCalls, clock
):
    first = make_callback(phone_number=number(1))
    second = make_callback(phone_number=number(2))
    report = dispatch(app, call_daily_cap_per_line=1)
    assert len(report.placed) == 1 and report.deferred == 1
    assert [r.data["To"] for r in create_requests(http_client)] == [[number(1)]]
    late = get_callback(app, second)
    assert late.last_outcome == "deferred: daily cap of 1 calls for this line reached"
    assert late.due_at.astimezone(UTC) == local(2025, 3, 5, 8, 30).astimezone(UTC)
    assert get_callback(app, first).status == CallbackStatus.DIALING


def test_the_call_caps_are_read_from_the_configuration():
    settings = CallbackSettings.from_config(
        {"CALL_DAILY_CAP_PER_NUMBER": "2", "CALL_DAILY_CAP_PER_LINE": "300"}
    )
    assert (settings.call_daily_cap_per_number, settings.call_daily_cap_per_line) == (2, 300)
    defaults = CallbackSettings.from_config({})
    assert (defaults.call_daily_cap_per_number, defaults.call_daily_cap_per_line) == (6, 1000)


def test_supervisors_see_refused_callbacks_with_their_reason_operators_do_not(
    app, client, make_operator, make_callback, clock
):
    make_callback(phone_number=UK_MOBILE, reason=CallbackReason.VOICEMAIL)
    supervisor_id = make_operator(role=Role.SUPERVISOR)
    operator_id = make_operator(role=Role.OPERATOR)
    login(client, supervisor_id)
    page = client.get("/console/callbacks").get_data(as_text=True)
    assert "refused-heading" in page and 'class="refused-callback"' in page
    assert "country code +44 is not allowed (allowed: +86)" in page
    assert UK_MOBILE in page
    login(client, operator_id)
    page = client.get("/console/callbacks").get_data(as_text=True)
    assert "refused-heading" not in page


def test_a_foreign_number_typed_for_an_operator_is_never_rung(app, twilio, http_client):
    with app.app_context():
        factories.make_operator(
            db.session,
            "lin",
            role=Role.OPERATOR,
            password="a long password",
            phone_number="+2348031234567",
        )
        db.session.commit()
    with time_machine.travel(MONDAY_10AM, tick=False):
        queued = reach_queue(twilio, app, from_="+8613123456762")
        client = app.test_client()
        console_login(client, "lin", "a long password")
        with app.app_context():
            operator = db.session.scalar(select(Operator).where(Operator.username == "lin"))
            operator.presence = Presence.AVAILABLE
            db.session.commit()
        http_client.requests.clear()
        response = client.post("/console/api/queue/take-next", data={"via": "phone"})
    assert response.status_code >= 400
    assert response.get_json()["code"] == "number_refused"
    assert http_client.find("POST", "/Calls.json") == [], "the typo dialled nothing"
    with app.app_context():
        assert db.session.get(QueueEntry, queued.entry_id).status == QueueStatus.WAITING


@pytest.mark.parametrize("to", [UK_MOBILE, SATELLITE, SHARED_COST])
def test_the_gateway_refuses_a_costly_number_as_the_last_line(app, http_client, to):
    from hotline.telephony.gateway import OutboundNumberRefused

    with app.app_context():
        gateway = get_gateway()
        with pytest.raises(OutboundNumberRefused):
            gateway.create_call(
                to=to, from_="+861012345678", url="http://x/a", status_callback="http://x/s"
            )
        with pytest.raises(OutboundNumberRefused):
            gateway.add_conference_participant("CF" + "c" * 32, from_="+861012345678", to=to)
        with pytest.raises(OutboundNumberRefused):
            gateway.send_sms(to=to, from_="+861012345678", body="x", status_callback=None)
        assert (
            gateway.create_call(
                to="client:operator-1", from_="+861012345678", url="http://x/a", status_callback="s"
            )
            or True
        )
    assert [r for r in http_client.requests if "client:" not in str(r.data)] == []


def test_a_refused_number_asking_again_adds_to_its_refused_row(app, twilio, http_client):
    from tests.sms.fixtures import sms_params

    with time_machine.travel(MONDAY_10AM, tick=False) as clock:
        for _text in range(3):
            assert (
                twilio.post("/twilio/sms", sms_params("回电", from_=UK_MOBILE)).status_code == 200
            )
            clock.shift(600)
    [callback] = _callbacks(app)
    assert callback.status == CallbackStatus.REFUSED
    assert callback.note.count("also sms") == 2, "one row for supervisors, not one per text"
    assert len(_refusal_audits(app)) == 1


def test_a_message_left_through_a_callback_calls_fallback_never_calls_the_line_itself(
    app, twilio, http_client, fake_calls: FakeCalls
):
    """The fallback of an outbound call sees From = the line: the callback is owed to the
    person called (To), and nothing ever rings the hotline's own number."""
    with time_machine.travel(MONDAY_10AM, tick=False):
        params = twilio.call_params(
            twilio.new_call_sid(),
            from_="+861012345678",
            to="+8613123456701",
            CallStatus="in-progress",
            Direction="outbound-api",
            RecordingUrl="https://api.twilio.com/rec/RE1",
            RecordingDuration="12",
        )
        response = twilio.post("/twilio/voice/fallback/recorded?lang=zh-CN", params)
        assert response.status_code == 200
        dispatch(app)
    assert [(c.phone_number, c.refusal_reason) for c in _callbacks(app)] == [
        ("+8613123456701", None)
    ]
    assert [r.data["To"][0] for r in create_requests(http_client)] == ["+8613123456701"]
