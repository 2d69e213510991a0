"""Lean idempotency records (issue 16, item 4): a status callback's WebhookEvent keeps only
what says which event it was; a retry is still recognised and answered without effect."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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


def test_a_webhook_that_raced_in_twice_keeps_one_record_and_its_effects(app, twilio, monkeypatch):
    """The record is INSERT ... ON CONFLICT DO NOTHING: when the same webhook's record is
    already there by the time this one stores its own (a concurrent duplicate), the first
    record stands, this one's effects still commit, and the answer is not an error."""
    from hotline.telephony import webhooks

    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_="+8613800000002")
    assert twilio.post("/twilio/voice", params).status_code == 200
    status = {**params, "CallStatus": "in-progress", "SequenceNumber": "1"}
    real = webhooks.stored_params

    def first_one_lands_meanwhile(stored: dict, status_code: int) -> dict:
        key = webhooks.idempotency_key("/twilio/voice/status", _form(status))
        db.session.connection().execute(
            WebhookEvent.__table__.insert().values(
                kind="voice_status",
                sid=sid,
                idempotency_key=key,
                path="/twilio/voice/status",
                params={"first": "1"},
                status_code=204,
                response_body="",
                received_at=datetime.now(UTC),
            )
        )
        return real(stored, status_code)

    monkeypatch.setattr(webhooks, "stored_params", first_one_lands_meanwhile)
    assert twilio.post("/twilio/voice/status", status).status_code == 204
    with app.app_context():
        records = db.session.scalars(
            select(WebhookEvent.params).where(
                WebhookEvent.sid == sid, WebhookEvent.kind == "voice_status"
            )
        ).all()
        assert records == [{"first": "1"}]
        call_status = db.session.scalar(select(Call.status).where(Call.call_sid == sid))
        assert call_status.value == "in-progress"


def _form(params: dict):
    from werkzeug.datastructures import MultiDict

    return MultiDict(params)


def test_a_twiml_webhook_keeps_what_it_said_not_twilios_copies_and_geography(app, twilio):
    sid = twilio.new_call_sid()
    params = {
        **twilio.call_params(sid, from_="+8613800000003"),
        "FromCountry": "CN",
        "FromCity": "BEIJING",
        "ToCountry": "CN",
        "CallerCountry": "CN",
    }
    assert twilio.post("/twilio/voice", params).status_code == 200
    record = _event(app, sid, "voice")
    assert record.params["From"] == "+8613800000003" and record.params["CallSid"] == sid
    assert "To" in record.params and "CallStatus" in record.params
    dropped = {"AccountSid", "ApiVersion", "Caller", "Called", "FromCountry", "FromCity"}
    assert not dropped & set(record.params), record.params
    assert record.response_body.startswith("<?xml")  # what a retry replays
