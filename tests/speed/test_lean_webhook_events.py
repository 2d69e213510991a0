"""Lean idempotency records (issue 16, item 4): a status callback's WebhookEvent keeps only
what says which event it was; a retry is still recognised and answered without effect."""

from __future__ import annotations

import json

from sqlalchemy import select

from hotline.calls.models import Call, WebhookEvent
from hotline.db import db
from hotline.telephony.webhooks import STATUS_PARAMS_KEPT


def _event(app, sid: str, kind: str) -> WebhookEvent:
    with app.app_context():
        return db.session.scalar(
            select(WebhookEvent).where(WebhookEvent.sid == sid, WebhookEvent.kind == kind)
        )


def test_a_status_callback_keeps_only_the_event_and_a_retry_still_replays(app, twilio):
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_="+8613800000001")
    assert twilio.post("/twilio/voice", params).status_code == 200
    status = {**params, "CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "42"}
    first = twilio.post("/twilio/voice/status", status)
    assert first.status_code == 204

    voice = _event(app, sid, "voice")
    record = _event(app, sid, "voice_status")
    assert record is not None, "the status callback's record"
    assert record.params == {
        "CallSid": sid,
        "CallStatus": "completed",
        "SequenceNumber": "3",
        "CallDuration": "42",
    }
    assert set(record.params) <= STATUS_PARAMS_KEPT
    assert "+8613800000001" not in json.dumps(record.params)  # the caller's number is not kept
    assert voice.params["From"] == "+8613800000001"  # a TwiML answer's record keeps them all

    with app.app_context():
        rows = db.session.scalar(select(WebhookEvent.id).order_by(WebhookEvent.id.desc()))
        ended = db.session.scalar(select(Call.ended_at).where(Call.call_sid == sid))
    again = twilio.post("/twilio/voice/status", status)  # Twilio's retry
    assert again.status_code == 204
    with app.app_context():
        assert db.session.scalar(select(WebhookEvent.id).order_by(WebhookEvent.id.desc())) == rows
        assert db.session.scalar(select(Call.ended_at).where(Call.call_sid == sid)) == ended
