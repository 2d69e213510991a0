"""The line's SMS cap cannot be used up by strangers, and an opted-out number gets nothing.

- The last SMS_DAILY_RESERVE_PER_LINE texts of the line's daily cap are kept for staff
  (supervisors' texts, texts an operator wrote) and for callers known before today.
- A caller who texted 退订 and then asked for a callback is not texted again (not the
  "callback requested" reply, not "we could not reach you") until they send START; the
  confirmation of the opt-out is the one text they get.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Role
from hotline.sms.models import SmsDirection, SmsMessage, SmsPurpose, SmsStatus
from hotline.sms.outbox import queue_sms
from tests import factories
from tests.callbacks.conftest import FakeCalls, dispatch, placed_call
from tests.callbacks.conftest import fake_calls as fake_calls  # noqa: F401 - fixture
from tests.sms.fixtures import sms_params

#: Tuesday 4 March 2025, 10:00 in Shanghai: inside the line's calling window.
TUESDAY_10AM = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
CALLER = "+8613123456701"
SUPERVISOR = "+8613800000001"


@pytest.fixture
def app_config(app_config):
    app_config.update(
        {
            "CALLBACK_CALLS_PER_SECOND": 0,
            "CALLBACK_RINGING_MARGIN": None,
            "SMS_SEGMENTS_PER_SECOND": 100,
            "SMS_DAILY_CAP_PER_LINE": 5,
            "SMS_DAILY_RESERVE_PER_LINE": 2,
        }
    )
    return app_config


def _queue(app, to: str, *, purpose=SmsPurpose.REPLY, operator_id=None) -> SmsMessage:
    with app.app_context():
        line = factories.main_line(db.session)
        row = queue_sms(
            db.session,
            to=to,
            body="您好",
            purpose=purpose,
            line_id=line.id,
            operator_id=operator_id,
            kind="test",
        )
        db.session.commit()
        db.session.expunge(row)
        return row


def test_strangers_cannot_use_up_the_reserve_kept_for_staff_and_known_callers(app):
    with time_machine.travel(TUESDAY_10AM - timedelta(days=3), tick=False), app.app_context():
        factories.make_caller(db.session, phone_number="+8613100000099")  # known for days
        supervisor = factories.make_operator(
            db.session, role=Role.SUPERVISOR, phone_number=SUPERVISOR
        )
        supervisor_id = supervisor.id
        db.session.commit()
    with time_machine.travel(TUESDAY_10AM, tick=False):
        strangers = [f"+86131000000{i:02d}" for i in range(4)]
        with app.app_context():
            for stranger in strangers:  # whoever texts or rings the line gets a profile
                factories.make_caller(db.session, phone_number=stranger)
            db.session.commit()
        rows = [_queue(app, to) for to in strangers]
        assert [r.status for r in rows] == [
            SmsStatus.QUEUED,
            SmsStatus.QUEUED,
            SmsStatus.QUEUED,
            SmsStatus.REFUSED,
        ], "strangers get 5 - 2 = 3 texts of the line's day"
        assert rows[3].status_reason == (
            "daily cap of 3 texts for this line reached "
            "(the last 2 are kept for staff and known callers)"
        )
        alert = _queue(app, SUPERVISOR, purpose=SmsPurpose.SUPERVISOR_ALERT)
        assert alert.status == SmsStatus.QUEUED, "a supervisor's alert still goes"
        reply = _queue(app, "+8613100000099")
        assert reply.status == SmsStatus.QUEUED, "a known caller's reply still goes"
        full = _queue(app, strangers[0], operator_id=supervisor_id)
        assert (full.status, full.status_reason) == (
            SmsStatus.REFUSED,
            "daily cap of 5 texts for this line reached",
        ), "the reserve is part of the cap, not beyond it"


def test_a_text_an_operator_wrote_may_use_the_reserve(app):
    with time_machine.travel(TUESDAY_10AM, tick=False):
        with app.app_context():
            operator_id = factories.make_operator(db.session, role=Role.OPERATOR).id
            for i in range(4):
                factories.make_caller(db.session, phone_number=f"+86131000000{i:02d}")
            db.session.commit()
        for i in range(3):
            assert _queue(app, f"+86131000000{i:02d}").status == SmsStatus.QUEUED
        assert _queue(app, "+8613100000003").status == SmsStatus.REFUSED
        written = _queue(app, "+8613100000003", operator_id=operator_id)
        assert written.status == SmsStatus.QUEUED


def _outbound(app) -> list[SmsMessage]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(SmsMessage)
                .where(SmsMessage.direction == SmsDirection.OUTBOUND)
                .order_by(SmsMessage.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def test_after_stop_a_callback_request_gets_no_text_until_start(
    app, twilio, http_client, fake_calls: FakeCalls
):
    from hotline.sms.jobs import send_outbox

    with app.app_context():
        db.session.scalar(select(Line).where(Line.key == "main")).callback_max_attempts = 1
        db.session.commit()
    with time_machine.travel(TUESDAY_10AM, tick=False) as clock:
        assert twilio.post("/twilio/sms", sms_params("退订", from_=CALLER)).status_code == 200
        assert twilio.post("/twilio/sms", sms_params("回电", from_=CALLER)).status_code == 200
        with app.app_context():
            callback = db.session.scalar(select(CallbackRequest))
            assert (callback.reason, callback.status) == (
                CallbackReason.SMS,
                CallbackStatus.PENDING,
            ), "the callback itself is still owed: opting out of texts is not of calls"
            callback_id = callback.id
        assert len(dispatch(app).placed) == 1
        placed_call(app, twilio, callback_id).status("no-answer", 1)  # the only attempt fails
        clock.shift(60)
        with app.app_context():
            send_outbox(app)
    texts = [t for t in _outbound(app) if t.to_number == CALLER]
    [confirmation] = [t for t in texts if t.kind == "opted_out"]
    assert confirmation.status == SmsStatus.SENT, "the opt-out is confirmed"
    refused = [t for t in texts if t.kind != "opted_out"]
    assert {(t.purpose, t.kind) for t in refused} >= {
        (SmsPurpose.REPLY, "callback_requested"),
    }, "the callback reply was written, and refused"
    assert SmsPurpose.CALLBACK_FAILED in {t.purpose for t in refused}, "so was 'not reached'"
    assert all(t.status == SmsStatus.REFUSED for t in refused)
    assert all("no texts until the person sends START" in t.status_reason for t in refused)
    sent = [r.data["To"][0] for r in http_client.find("POST", "/Messages.json")]
    assert sent.count(CALLER) == 1, "only the opt-out confirmation reached the caller"

    with time_machine.travel(TUESDAY_10AM + timedelta(hours=1), tick=False):
        assert twilio.post("/twilio/sms", sms_params("START", from_=CALLER)).status_code == 200
        resumed = [t for t in _outbound(app) if t.kind == "resumed"]
        assert [t.status for t in resumed] == [SmsStatus.QUEUED]
