"""SMS webhooks: incoming texts and message status callbacks (signed, idempotent)."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from hotline.db import db
from hotline.sms import service
from hotline.sms.cli import sms_cli
from hotline.sms.inbound import IncomingSms
from hotline.telephony.twiml import empty_status_response, twiml_response
from hotline.telephony.webhooks import BadWebhook, twilio_webhook

bp = Blueprint("sms", __name__, url_prefix="/twilio/sms")


def init_app(app) -> None:
    """The `flask sms` commands."""
    app.cli.add_command(sms_cli)


def _empty():
    """Replies go through the outbox, never inline: the TwiML answer is always empty."""
    return twiml_response(MessagingResponse())


@bp.post("")
@twilio_webhook("sms", on_failure=_empty, sid_param="MessageSid")
def incoming_sms():
    """An incoming text: handled once per MessageSid; any reply is queued in the outbox."""
    params = IncomingSms.parse(request.form)
    service.receive_sms(db.session, params, region=current_app.config.get("DEFAULT_REGION", "CN"))
    return _empty()


@bp.post("/status")
@twilio_webhook("sms_status", on_failure=empty_status_response, sid_param="MessageSid")
def sms_status():
    """A message status callback (204): statuses only move forward; 21610 opts the number out."""
    sid = request.form.get("MessageSid", "").strip() or request.form.get("SmsSid", "").strip()
    if not sid or len(sid) > 64:
        raise BadWebhook("MessageSid is missing")
    status = (
        request.form.get("MessageStatus", "").strip() or request.form.get("SmsStatus", "").strip()
    )
    raw_code = request.form.get("ErrorCode", "").strip()
    service.apply_message_status(
        db.session,
        message_sid=sid,
        status=status,
        error_code=int(raw_code) if raw_code.isdigit() else None,
    )
    return empty_status_response()
