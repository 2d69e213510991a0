"""Voice webhooks: incoming call, menu input, queue wait and exit, voicemail, fallback.

Thin: parse the parameters, call one voice-flow function (hotline.voice.flow), render TwiML. The signature was checked
before the request got here (hotline.app), and the `twilio_webhook` guard answers any failure
with TwiML that still reaches a voicemail and a callback.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from hotline.db import db
from hotline.ivr.engine import SayAction
from hotline.ivr.fallback import thanks_twiml
from hotline.ivr.render import render_step
from hotline.ivr.schema import ScriptSet
from hotline.lines import cache as lines_cache
from hotline.telephony.params import GatherParams, QueueParams, RecordingParams, VoiceParams
from hotline.telephony.speech import add_say
from hotline.telephony.twiml import twiml_response
from hotline.telephony.webhooks import twilio_webhook
from hotline.voice import flow as service
from hotline.voice import queue_views
from hotline.voice.urls import fallback_document, voice_urls

bp = Blueprint("voice", __name__, url_prefix="/twilio/voice")


def _lang() -> str:
    return request.args.get("lang", "zh-CN")


def _fallback():
    return twiml_response(fallback_document(_lang()))


def scripts() -> ScriptSet:
    """The scripts loaded (and checked) at start-up."""
    return current_app.extensions["hotline.ivr_scripts"]


def _region() -> str:
    return current_app.config["DEFAULT_REGION"]


@bp.post("")
@twilio_webhook("voice", on_failure=_fallback)
def incoming_call():
    """A call rings the line: recognise the caller and play the greeting and first menu."""
    params = VoiceParams.parse(request.form)
    try:
        turn = service.start_inbound_call(db.session, scripts(), params, region=_region())
    except service.NoLineConfigured:
        current_app.logger.error("a call arrived but no line is configured; using the fallback")
        return _fallback()
    return twiml_response(
        render_step(turn.step, queue_name=turn.line.queue_name, urls=voice_urls())
    )


@bp.post("/input")
@twilio_webhook("voice_input", on_failure=_fallback)
def menu_input():
    """The caller pressed a key, said something, or stayed silent at a menu."""
    params = VoiceParams.parse(request.form)
    gathered = GatherParams.parse(request.form)
    node_id = request.args.get("node", "")[:64]
    turn = service.continue_call(
        db.session,
        scripts(),
        params,
        gathered,
        node_id=node_id,
        language=_lang(),
        region=_region(),
    )
    return twiml_response(
        render_step(turn.step, queue_name=turn.line.queue_name, urls=voice_urls())
    )


def _safe_wait():
    """A waitUrl may not <Record>: on failure keep the caller waiting with a reassurance."""
    return queue_views._safe_wait()


@bp.post("/wait")
@twilio_webhook("voice_wait", on_failure=_safe_wait)
def queue_wait():
    """Played while the caller waits in the queue (Twilio re-requests it when it runs out)."""
    VoiceParams.parse(request.form)
    QueueParams.parse(request.form)
    return queue_views.wait_response(_lang())


@bp.post("/queue-exit")
@twilio_webhook("voice_queue_exit", on_failure=_fallback)
def queue_exit():
    """The <Enqueue> ended: bridged to an operator, hung up, left, or failed."""
    params = VoiceParams.parse(request.form)
    queue = QueueParams.parse(request.form)
    return queue_views.exit_response(params, queue, _lang())


@bp.post("/recorded")
@twilio_webhook("voice_recorded", on_failure=_fallback)
def recorded():
    """A voicemail was recorded: keep it with the call, thank the caller, hang up."""
    params = VoiceParams.parse(request.form)
    call = service.store_recording(db.session, params.call_sid, RecordingParams.parse(request.form))
    language = call.language if call else _lang()
    line = (
        lines_cache.line_by_id(db.session, call.line_id)
        if call is not None and call.line_id
        else None
    )
    script = scripts().get(line.script_key if line else "main", language)
    if script is not None:
        response = VoiceResponse()
        add_say(
            response,
            SayAction(
                script.messages["voicemail_thanks"], language, script.voice, script.rate_percent
            ),
        )
        response.hangup()
        return twiml_response(response)
    return twiml_response(thanks_twiml(language))


@bp.post("/fallback")
def fallback():
    """Twilio's Fallback URL: touches no database, so it works when nothing else does."""
    return twiml_response(fallback_document(_lang()))


@bp.post("/fallback/recorded")
@twilio_webhook("voice_fallback_recorded", on_failure=lambda: twiml_response(thanks_twiml(_lang())))
def fallback_recorded():
    """A message left through the fallback: owe the caller a callback (spooled if the DB is down)."""
    params = VoiceParams.parse(request.form)
    service.fallback_voicemail(
        db.session, params, RecordingParams.parse(request.form), region=_region()
    )
    return twiml_response(thanks_twiml(_lang()))
