"""SMS webhooks (minimal: acknowledged and audited; two-way SMS is its own feature)."""

from __future__ import annotations

from flask import Blueprint, request
from twilio.twiml.messaging_response import MessagingResponse

from hotline.telephony.twiml import empty_status_response, twiml_response
from hotline.telephony.webhooks import BadWebhook, twilio_webhook

bp = Blueprint("sms", __name__, url_prefix="/twilio/sms")


def _empty():
    return twiml_response(MessagingResponse())


@bp.post("")
@twilio_webhook("sms", on_failure=_empty, sid_param="MessageSid")
def incoming_sms():
    """An incoming text: recorded in the webhook audit; no automatic reply yet."""
    if not request.form.get("MessageSid") or not request.form.get("From"):
        raise BadWebhook("MessageSid and From are required")
    return _empty()


@bp.post("/status")
@twilio_webhook("sms_status", on_failure=empty_status_response, sid_param="MessageSid")
def sms_status():
    """A message status callback (204)."""
    if not request.form.get("MessageSid"):
        raise BadWebhook("MessageSid is missing")
    return empty_status_response()
