"""Erasure and retention leave no trace of a person in any table (issue 12, item 8).

A caller gets a full history through the real entry points (signed webhooks with speech, texts
in and out, a callback placed by the clock, a case with notes, family, a referral, the audit
trail), is erased, and then every text and JSON column of every table is scanned for their
number (E.164, national, last 8 digits) and their name.
"""

# ruff: noqa: F811
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, String, Text, select

from hotline.callers.models import Caller
from hotline.calls.models import Call, CallDirection, WebhookEvent
from hotline.db import Base, db
from hotline.operators.models import Role
from hotline.sms.models import SmsDirection, SmsMessage
from tests.cases.conftest import make_staff, sign_in  # noqa: F401
from tests.conftest import follow

NUMBER = "+8613800000001"
NATIONAL = "13800000001"
LAST_8 = NUMBER[-8:]
NAME = "王秀英"
NICKNAME = "秀英阿姨"
LINE = "+861012345678"


@pytest.fixture
def app_config(app_config):
    """The clock places callbacks to http://localhost (the signed test posts' base URL), now."""
    app_config.update(
        {
            "PUBLIC_BASE_URL": "http://localhost",
            "CALLBACK_CALLS_PER_SECOND": 0,
            "CALLBACK_RINGING_MARGIN": None,
        }
    )
    return app_config


#: A Wednesday, 11:00 in Shanghai: inside the calling window, so the callback is placed at once.
WEDNESDAY = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine) -> datetime:
    time_machine.move_to(WEDNESDAY, tick=False)
    return WEDNESDAY


#: The last 8 digits written on their own ("尾号00000001"); inside a longer run of letters and
#: digits they are a SID's, and the longer forms of the number are searched for themselves.
LAST_8_ALONE = re.compile(rf"(?<![0-9A-Za-z]){LAST_8}(?![0-9])")


def _traces(session) -> list[str]:
    """Every "table.column: form" where a text or JSON column holds the number in one of its
    forms or the name, across every table of the schema."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        if not columns:
            continue
        for row in session.execute(select(*columns)).all():
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                # As stored, and as JSON would escape it (\u escapes of the name).
                plain = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                text = plain + "\n" + json.dumps(value)
                for needle in (NUMBER, NATIONAL, NAME, NICKNAME):
                    if needle in text or json.dumps(needle)[1:-1] in text:
                        found.append(f"{table.name}.{column.name}: {needle}")
                if LAST_8_ALONE.search(text):
                    found.append(f"{table.name}.{column.name}: {LAST_8}")
    return sorted(set(found))


def _sms(twilio, body: str) -> None:
    import uuid

    sid = "SM" + uuid.uuid4().hex
    response = twilio.post(
        "/twilio/sms",
        {"MessageSid": sid, "SmsSid": sid, "From": NUMBER, "To": LINE, "Body": body},
    )
    assert response.status_code == 200


def _full_history(app, client, twilio, sign_in, make_staff, make_caller) -> int:
    """A caller with everything the hotline can hold about them; returns their id."""
    from hotline.callbacks.jobs import dispatch_due_callbacks
    from hotline.sms.jobs import send_outbox

    caller_id = make_caller(
        phone_number=NUMBER, name=NAME, display_name=NICKNAME, notes=f"{NAME} 独居"
    )

    # A call through signed webhooks: the greeting by name, speech with the name, the end.
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_=NUMBER, to=LINE)
    first = twilio.post("/twilio/voice", params)
    assert first.status_code == 200
    follow(twilio, first, params, speech=f"我是{NAME},电话{NATIONAL},想问养老金认证")
    twilio.post("/twilio/voice/status", {**params, "CallStatus": "completed", "CallDuration": "42"})

    # Texts in (one asks for a callback), the replies sent by the clock, a status callback.
    _sms(twilio, f"我是{NAME},我的电话是{NUMBER}")
    _sms(twilio, "回电")
    with app.app_context():
        send_outbox(app)
        for message in db.session.scalars(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.OUTBOUND)
        ):
            twilio.post(
                "/twilio/sms/status",
                {
                    "MessageSid": message.message_sid,
                    "SmsSid": message.message_sid,
                    "MessageStatus": "delivered",
                    "To": NUMBER,
                    "From": LINE,
                },
            )
        # The clock places the callback: an outbound call to their number.
        dispatch_due_callbacks(app)

    # The case screen: summary, notes, a referral, a callback; family on the profile.
    supervisor = make_staff(Role.SUPERVISOR)
    sign_in(client, supervisor)
    with app.app_context():
        from hotline.cases.models import Case

        number = db.session.scalar(select(Case.number).where(Case.caller_id == caller_id))
    posts = [
        (f"/console/cases/{number}/summary", {"summary": f"{NAME}({NUMBER})不会认证"}),
        (f"/console/cases/{number}/notes", {"text": f"{NICKNAME} 说回拨 {NATIONAL}"}),
        (
            f"/console/cases/{number}/referral",
            {"target_kind": "agency", "target_name": "街道民政科", "reason": f"{NAME} 需要上门"},
        ),
        (
            f"/console/cases/{number}/callback",
            {"due_at": "2099-06-01T15:30", "note": f"打 {NUMBER}"},
        ),
        (
            f"/console/callers/{caller_id}/family",
            {"name": "王小明", "relation": "儿子", "phone_number": "+8613800000002"},
        ),
    ]
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code == 303, (url, response.get_data(as_text=True)[:2000])

    with app.app_context():
        before = _traces(db.session)
        outbound = db.session.scalar(
            select(Call).where(Call.direction == CallDirection.OUTBOUND, Call.to_number == NUMBER)
        )
    # The history really holds the person everywhere the issue found them.
    assert outbound is not None, "the clock placed the callback"
    for place in (
        "webhook_events.params: " + NUMBER,
        "webhook_events.response_body: " + NICKNAME,
        "calls.menu_path: " + NAME,
        "calls.to_number: " + NUMBER,
        "sms_messages.body: " + NAME,
        "cases.summary: " + NAME,
        "case_notes.text: " + NICKNAME,
        "callers.name: " + NAME,
    ):
        assert place in before, (place, before)
    return caller_id


def test_erasure_leaves_no_trace_of_the_number_or_the_name_in_any_table(
    app, client, twilio, sign_in, make_staff, make_caller, now
):
    caller_id = _full_history(app, client, twilio, sign_in, make_staff, make_caller)
    response = client.post(f"/console/callers/{caller_id}/erase", data={"confirm": "ERASE"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Caller, caller_id).anonymised_at is not None
        traces = _traces(db.session)
        assert traces == [], "\n".join(traces)


def test_the_retention_sweep_leaves_no_trace_of_an_inactive_caller(
    app, client, twilio, sign_in, make_staff, make_caller, now, time_machine
):
    from hotline.cases.jobs import run_retention
    from hotline.cases.models import Case, CaseStatus

    caller_id = _full_history(app, client, twilio, sign_in, make_staff, make_caller)
    with app.app_context():
        # Their matters are done: the case closed, the callbacks given up.
        from hotline.callbacks.models import ACTIVE_STATUSES, CallbackRequest, CallbackStatus

        for case in db.session.scalars(select(Case).where(Case.caller_id == caller_id)):
            case.status = CaseStatus.CLOSED
        for callback in db.session.scalars(
            select(CallbackRequest).where(CallbackRequest.status.in_(ACTIVE_STATUSES))
        ):
            callback.status = CallbackStatus.CANCELED
        db.session.commit()
    days = app.config["CALLER_RETENTION_DAYS"]
    time_machine.move_to(now + timedelta(days=days + 1), tick=False)  # two years of silence
    with app.app_context():
        run_retention(app)
    with app.app_context():
        assert db.session.get(Caller, caller_id).anonymised_at is not None
        traces = _traces(db.session)
        assert traces == [], "\n".join(traces)


@pytest.mark.parametrize(("setting", "kept_days"), [(None, 30), (7, 7), (0, 1)])
def test_webhook_events_are_kept_only_as_long_as_configured(app, setting, kept_days):
    """Pruned by age by a clock job; at least a day, whatever the setting (Twilio's retries
    come within minutes and must still find their answer)."""
    from hotline.calls.jobs import JOBS, prune_webhook_events
    from hotline.clock import registered_jobs
    from hotline.timeutil import utcnow

    assert "calls_webhook_events_prune" in {job.id for job in JOBS}
    assert "calls_webhook_events_prune" in {job.id for job in registered_jobs()}
    app.config["WEBHOOK_EVENT_RETENTION_DAYS"] = setting
    start = utcnow()
    ages = {
        "old": timedelta(days=kept_days, hours=1),
        "recent": timedelta(days=kept_days, hours=-1),
    }
    with app.app_context():
        for sid, age in ages.items():
            db.session.add(
                WebhookEvent(
                    kind="voice",
                    sid=sid,
                    idempotency_key=f"key-{sid}",
                    path="/twilio/voice",
                    params={"From": NUMBER},
                    received_at=start - age,
                )
            )
        db.session.commit()
    with app.app_context():
        prune_webhook_events(app)
    with app.app_context():
        assert list(db.session.scalars(select(WebhookEvent.sid))) == ["recent"]


def test_the_webhook_event_retention_is_read_from_the_environment(tmp_path):
    from hotline.config import from_environment

    config = from_environment(str(tmp_path), {"WEBHOOK_EVENT_RETENTION_DAYS": "7"})
    assert config["WEBHOOK_EVENT_RETENTION_DAYS"] == 7
