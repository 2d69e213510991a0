"""Twilio webhooks of external transfers and recorded calls (blueprint `transfers_twilio`,
under /twilio/transfers). Signature-checked like every /twilio/ URL (hotline.app), each behind
the `twilio_webhook` guard: one commit, a 400 with nothing written for malformed input, never
a 500 (status callbacks answer 204).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from hotline.db import db
from hotline.lines.models import Line
from hotline.queue import connect
from hotline.queue.models import QueueEntry
from hotline.queue.twiml import Voice
from hotline.telephony.gateway import public_base_url
from hotline.telephony.params import RecordingStatusParams, StatusParams
from hotline.telephony.speech import add_say
from hotline.telephony.twiml import empty_status_response, twiml_response
from hotline.telephony.webhooks import BadWebhook, twilio_webhook
from hotline.transfers import recordings, service
from hotline.transfers.models import ExternalTransfer
from hotline.voice.queue_views import after_response

log = logging.getLogger(__name__)

bp = Blueprint("transfers_twilio", __name__, url_prefix="/twilio/transfers")

#: Agency staff hear the notice at the normal speaking rate (elders hear it slower).
STAFF_RATE = 100


def _int_arg(name: str) -> int:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        raise BadWebhook(f"{name} is missing") from None


@bp.post("/participant-status")
@twilio_webhook("transfer_participant_status", on_failure=empty_status_response)
def participant_status():
    """Progress of the outside party's leg: answered, then its end and duration (204). A cold
    transfer nobody answered sends the caller back to the queue; a warm one whose outside
    party is gone takes the caller off hold (REST requests made after the response)."""
    params = StatusParams.parse(request.form)
    transfer_id = _int_arg("transfer")
    after = service.participant_status(
        db.session,
        transfer_id=transfer_id,
        call_sid=params.call_sid,
        call_status=params.call_status,
        duration_seconds=params.duration_seconds,
    )
    transfer = db.session.get(ExternalTransfer, transfer_id)
    entry_id = transfer.queue_entry_id if transfer is not None else None
    if entry_id is not None and after == service.AFTER_REQUEUE:
        base = public_base_url()
        after_response(
            lambda: connect.send_caller_back_to_queue(db.session, entry_id, base_url=base)
        )
    elif entry_id is not None and after == service.AFTER_RESUME:
        after_response(lambda: service.resume_caller(db.session, entry_id))
    elif after == service.AFTER_ANNOUNCE:
        base = public_base_url()
        after_response(lambda: service.announce_recording(db.session, transfer_id, base_url=base))
    return empty_status_response()


@bp.post("/recording-notice")
@twilio_webhook("transfer_recording_notice", on_failure=lambda: twiml_response(VoiceResponse()))
def recording_notice():
    """Announced to an agency joining a recorded conversation: the line's recording notice, in
    the line's language, at the normal speaking rate (staff, not an elder)."""
    entry = db.session.get(QueueEntry, _int_arg("entry"))
    line = db.session.get(Line, entry.line_id) if entry is not None else None
    scripts = current_app.extensions.get("hotline.ivr_scripts")
    script = scripts.get(line.script_key, line.default_language) if scripts and line else None
    response = VoiceResponse()
    if script is not None:
        voice = Voice(script.language, script.voice, STAFF_RATE)
        add_say(response, voice.say(script.message("recording_notice")))
    return twiml_response(response)


@bp.post("/recording-status")
@twilio_webhook("recording_status", on_failure=empty_status_response, sid_param="RecordingSid")
def recording_status():
    """A conversation's recording is ready: keep its sid, duration and call (204)."""
    params = RecordingStatusParams.parse(request.form)
    entry = db.session.get(QueueEntry, _int_arg("entry"))
    recordings.store(db.session, entry, params)
    return empty_status_response()
