"""Twilio's callback-call webhooks (blueprint `callbacks_twilio`): answer with answering-machine
detection, and status; thin, signed (checked for every /twilio/ URL before any view runs) and
idempotent (`twilio_webhook`).

POST /twilio/callbacks/answer?attempt=N and /twilio/callbacks/status?attempt=N.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from hotline.callbacks import service
from hotline.callbacks.render import answer_twiml
from hotline.db import db
from hotline.telephony.params import StatusParams, VoiceParams
from hotline.telephony.twiml import empty_status_response, twiml_response
from hotline.telephony.webhooks import BadWebhook, twilio_webhook
from hotline.voice import flow
from hotline.voice.urls import fallback_document, voice_urls

bp = Blueprint("callbacks_twilio", __name__)


def _attempt_id() -> int:
    raw = request.args.get("attempt", "").strip()
    if not raw.isdigit():
        raise BadWebhook("attempt is missing")
    return int(raw)


def _answer_failed():
    """Our answer webhook failed: the fallback still takes a message (and owes a callback)."""
    return twiml_response(fallback_document("zh-CN"))


@bp.post("/twilio/callbacks/answer")
@twilio_webhook("callback_answer", on_failure=_answer_failed)
def answer():
    """A callback call was picked up; AnsweredBy says by whom (person, machine, fax)."""
    params = VoiceParams.parse(request.form)
    answered_by = request.form.get("AnsweredBy", "").strip()[:32] or None
    result = flow.answer_callback(db.session, _attempt_id(), params, answered_by=answered_by)
    return twiml_response(
        answer_twiml(result, current_app.extensions["hotline.ivr_scripts"], urls=voice_urls())
    )


@bp.post("/twilio/callbacks/status")
@twilio_webhook("callback_status", on_failure=empty_status_response)
def status():
    """Progress of a callback call (Twilio ignores the body: 204)."""
    params = StatusParams.parse(request.form)
    answered_by = request.form.get("AnsweredBy", "").strip()[:32] or None
    service.record_call_status(db.session, _attempt_id(), params, answered_by=answered_by)
    return empty_status_response()
