"""The call status callback: idempotent, order-independent, never moving a status backwards."""

from __future__ import annotations

from flask import Blueprint, request

from hotline.calls import service
from hotline.db import db
from hotline.telephony.params import StatusParams
from hotline.telephony.twiml import empty_status_response
from hotline.telephony.webhooks import twilio_webhook

bp = Blueprint("call_status", __name__, url_prefix="/twilio/voice")


@bp.post("/status")
@twilio_webhook("voice_status", on_failure=empty_status_response)
def status_callback():
    """Record a call progress event (Twilio ignores the body: 204)."""
    service.apply_status(db.session, StatusParams.parse(request.form))
    return empty_status_response()
