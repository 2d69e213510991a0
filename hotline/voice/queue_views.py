"""Twilio webhooks of the queue (blueprint `queue_twilio`, under /twilio/queue).

The <Enqueue> itself points at /twilio/voice/wait and /twilio/voice/queue-exit (hotline.voice.views),
which hand over to `wait_response` and `exit_response` here. Thin: parse, one service call, a
pure TwiML renderer. Every view goes through the `twilio_webhook` guard; the answers on failure
keep the caller somewhere safe (still waiting, or the voicemail of last resort).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, after_this_request, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from hotline.callers.models import Caller
from hotline.db import db
from hotline.lines import cache as lines_cache
from hotline.queue import connect, service, twiml
from hotline.queue.models import QueueEntry
from hotline.telephony.gateway import public_base_url
from hotline.telephony.params import GatherParams, QueueParams, VoiceParams
from hotline.telephony.speech import DEFAULT_RATE, rate_for, voice_for
from hotline.telephony.twiml import empty_status_response, twiml_response
from hotline.telephony.webhooks import BadWebhook, twilio_webhook
from hotline.transfers.recordings import recording_status_url
from hotline.voice.urls import fallback_document, voice_urls

log = logging.getLogger(__name__)

bp = Blueprint("queue_twilio", __name__, url_prefix="/twilio/queue")

# --------------------------------------------------------------------------- helpers


def _lang() -> str:
    language = request.args.get("lang", "zh-CN")
    return language if language in twiml.QUEUE_TEXTS else "zh-CN"


def _int_arg(name: str) -> int:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        raise BadWebhook(f"{name} is missing") from None


def speech_for(
    language: str, *, entry: QueueEntry | None = None
) -> tuple[twiml.Voice, dict[str, str]]:
    """The voice, speaking rate and queue texts for this caller in `language`."""
    scripts = current_app.extensions.get("hotline.ivr_scripts")
    line = lines_cache.line_by_id(db.session, entry.line_id) if entry is not None else None
    script = None
    if scripts is not None:
        script = scripts.get(line.script_key if line else "main", language) or scripts.get(
            "main", language
        )
    voice = script.voice if script else voice_for(language)
    rate = script.rate_percent if script else DEFAULT_RATE
    caller = db.session.get(Caller, entry.caller_id) if entry and entry.caller_id else None
    if caller is not None:
        rate = rate_for(
            speech_rate_percent=caller.speech_rate_percent,
            is_hard_of_hearing=caller.is_hard_of_hearing,
            default=rate,
        )
    texts = twiml.texts_for(language, script.messages if script else None)
    return twiml.Voice(language, voice, rate), texts


def _safe_wait():
    """On failure inside the wait: keep the caller waiting (only wait verbs are allowed here)."""
    language = _lang()
    voice = twiml.Voice(language, voice_for(language), DEFAULT_RATE)
    return twiml_response(twiml.hold_on_document(voice, twiml.texts_for(language)))


def _fallback():
    return twiml_response(fallback_document(_lang()))


def _operator_failure():
    return twiml_response(twiml.operator_message_document("zh", twiml.operator_text("ended", "zh")))


def after_response(work: Callable[[], None]) -> None:
    """Run `work` (a REST call) after this response has been sent, in an app context.

    Twilio waits for our answer; outbound HTTP must not delay it.
    """
    app = current_app._get_current_object()

    @after_this_request
    def _register(response):
        def run() -> None:
            with app.app_context():
                try:
                    work()
                except Exception:  # noqa: BLE001 - logged; the response is already sent
                    log.exception("work after the response failed")

        response.call_on_close(run)
        return response


# --------------------------------------------------------------------------- the wait


def render_wait(turn: service.WaitTurn):
    """A WaitTurn as the TwiML the caller hears."""
    voice, texts = speech_for(turn.language, entry=turn.entry)
    if turn.kind == "leave":
        return twiml_response(twiml.leave_document())
    if turn.kind == "connecting":
        return twiml_response(twiml.connecting_document(voice, texts))
    if turn.kind == "unknown":
        return twiml_response(twiml.hold_on_document(voice, texts))
    prompts = []
    if turn.kind == "announce":
        prompts = twiml.wait_prompts(
            texts,
            position=turn.position,
            estimate_seconds=turn.estimate_seconds,
            offer_callback=turn.offer_callback,
            is_first=turn.is_first,
        )
    document = twiml.wait_document(
        voice,
        prompts,
        input_url=url_for("queue_twilio.wait_input", lang=turn.language, turn=turn.turn),
        next_url=voice_urls().queue_wait(turn.language, turn.turn),
        pause_seconds=turn.pause_seconds,
        listen_for_callback=turn.offer_callback,
    )
    return twiml_response(document)


def wait_response(language: str):
    """The <Enqueue> waitUrl (POST /twilio/voice/wait): where the caller stands, every round."""
    params = VoiceParams.parse(request.form)
    queue = QueueParams.parse(request.form)
    turn = service.wait_turn(
        db.session, call_sid=params.call_sid, queue_sid=queue.queue_sid, language=language
    )
    return render_wait(turn)


@bp.post("/wait-input")
@twilio_webhook("queue_wait_input", on_failure=_safe_wait)
def wait_input():
    """A key or a word while waiting: `*` repeats, 1 or 回电 takes the offered callback."""
    params = VoiceParams.parse(request.form)
    queue = QueueParams.parse(request.form)
    gathered = GatherParams.parse(request.form)
    turn = service.wait_input(
        db.session,
        call_sid=params.call_sid,
        queue_sid=queue.queue_sid,
        language=_lang(),
        digits=gathered.digits,
        speech=gathered.speech,
    )
    return render_wait(turn)


def exit_response(params: VoiceParams, queue: QueueParams, language: str):
    """The <Enqueue> action (POST /twilio/voice/queue-exit): after the caller left the queue."""
    result = service.queue_exit(
        db.session, call_sid=params.call_sid, queue_result=queue.queue_result, language=language
    )
    voice, texts = speech_for(result.language, entry=result.entry)
    if result.kind == "callback":
        return twiml_response(twiml.callback_confirmed_document(voice, texts))
    if result.kind == "voicemail":
        action = voice_urls().recorded(result.language)
        return twiml_response(twiml.voicemail_document(voice, texts, record_action=action))
    if result.kind == "voicemail_unknown":
        return twiml_response(fallback_document(result.language))
    if queue.queue_result == "redirected":
        return twiml_response(VoiceResponse())  # ignored: the call runs our dequeue URL
    response = VoiceResponse()
    response.hangup()
    return twiml_response(response)


def _recording_callback(entry_id: int) -> str | None:
    """Where Twilio posts the conversation's recording: only on a line with recording on, which
    the app marked in the (signed) URL when it sent the leg here (hotline.queue.connect)."""
    if request.args.get("rec") != "1":
        return None
    return public_base_url() + recording_status_url(entry_id)


# --------------------------------------------------------------------------- the caller's side


@bp.post("/join")
@twilio_webhook("queue_join", on_failure=_fallback)
def join():
    """The caller was dequeued for an operator: into the conference, waiting for them."""
    VoiceParams.parse(request.form)
    entry = db.session.get(QueueEntry, _int_arg("entry"))
    language = entry.language if entry is not None else _lang()
    voice, texts = speech_for(language, entry=entry)
    if entry is None or entry.conference_name is None or not entry.status.is_live:
        line = lines_cache.line_by_id(db.session, entry.line_id) if entry is not None else None
        if line is None:
            return _fallback()
        return twiml_response(
            twiml.requeue_document(voice, texts, queue_name=line.queue_name, urls=voice_urls())
        )
    base = public_base_url()
    return twiml_response(
        twiml.caller_conference_document(
            conference_name=entry.conference_name,
            dial_action=base + connect.after_call_url(entry.id, language),
            wait_url=base + connect.conference_wait_url(language),
            status_callback=base + connect.conference_status_url(entry.id),
            recording_status_callback=_recording_callback(entry.id),
        )
    )


@bp.post("/conference-wait")
@twilio_webhook("queue_conference_wait", on_failure=_safe_wait)
def conference_wait():
    """Heard in the conference until the operator joins (no music)."""
    voice, texts = speech_for(_lang())
    return twiml_response(twiml.connecting_document(voice, texts, loop_url=request.full_path))


@bp.route("/hold", methods=["GET", "POST"])
@twilio_webhook("queue_hold", on_failure=_safe_wait)
def hold():
    """Heard by a caller on hold (no music). Twilio fetches a participant's HoldUrl with GET
    unless told otherwise (the gateway does not set HoldMethod)."""
    voice, texts = speech_for(_lang())
    return twiml_response(twiml.on_hold_document(voice, texts, loop_url=request.full_path))


@bp.post("/after-call")
@twilio_webhook("queue_after_call", on_failure=_fallback)
def after_call():
    """The caller's conference ended: goodbye, or back to the queue when nobody came."""
    VoiceParams.parse(request.form)
    entry_id = _int_arg("entry")
    outcome = connect.caller_after_conference(db.session, entry_id=entry_id)
    entry = db.session.get(QueueEntry, entry_id)
    language = entry.language if entry is not None else _lang()
    voice, texts = speech_for(language, entry=entry)
    if outcome == "requeue" and entry is not None:
        line = lines_cache.line_by_id(db.session, entry.line_id)
        assert line is not None
        return twiml_response(
            twiml.requeue_document(voice, texts, queue_name=line.queue_name, urls=voice_urls())
        )
    return twiml_response(twiml.goodbye_document(voice, texts))


@bp.post("/requeue")
@twilio_webhook("queue_requeue", on_failure=_fallback)
def requeue():
    """The caller comes back from a conference nobody joined: same place in the queue."""
    VoiceParams.parse(request.form)
    entry = db.session.get(QueueEntry, _int_arg("entry"))
    if entry is None:
        return _fallback()
    line = lines_cache.line_by_id(db.session, entry.line_id)
    assert line is not None
    voice, texts = speech_for(entry.language, entry=entry)
    return twiml_response(
        twiml.requeue_document(voice, texts, queue_name=line.queue_name, urls=voice_urls())
    )


@bp.post("/conference-status")
@twilio_webhook("queue_conference_status", on_failure=empty_status_response)
def conference_status():
    """Conference events: remember the ConferenceSid and the caller's hold state (204)."""
    connect.conference_event(
        db.session,
        entry_id=_int_arg("entry"),
        conference_sid=request.form.get("ConferenceSid", "").strip()[:64] or None,
        event=request.form.get("StatusCallbackEvent", "").strip(),
        call_sid=request.form.get("CallSid", "").strip()[:64] or None,
    )
    return empty_status_response()


# --------------------------------------------------------------------------- the operator's side


@bp.post("/operator")
@twilio_webhook("queue_operator", on_failure=_operator_failure)
def operator_answered():
    """The operator picked up: who is calling, then the conference."""
    params = VoiceParams.parse(request.form)
    entry_id, operator_id = _int_arg("entry"), _int_arg("op")
    turn = connect.operator_answered(
        db.session, entry_id=entry_id, operator_id=operator_id, call_sid=params.call_sid
    )
    if turn.kind != "join" or turn.entry is None or turn.entry.conference_name is None:
        text = twiml.operator_text("caller_gone", turn.console_language)
        return twiml_response(twiml.operator_message_document(turn.console_language, text))
    base = public_base_url()
    return twiml_response(
        twiml.operator_conference_document(
            turn.console_language,
            turn.whisper,
            conference_name=turn.entry.conference_name,
            dial_action=base + connect.operator_done_url(entry_id, operator_id),
            status_callback=base + connect.conference_status_url(entry_id),
            is_transfer=turn.is_transfer,
            recording_status_callback=_recording_callback(entry_id),
        )
    )


@bp.post("/operator-done")
@twilio_webhook("queue_operator_done", on_failure=_operator_failure)
def operator_done():
    """The operator's conference ended: a word to them, and wrap-up."""
    VoiceParams.parse(request.form)
    language = connect.operator_after_conference(
        db.session, entry_id=_int_arg("entry"), operator_id=_int_arg("op")
    )
    return twiml_response(
        twiml.operator_message_document(language, twiml.operator_text("ended", language))
    )


@bp.post("/operator-status")
@twilio_webhook("queue_operator_status", on_failure=empty_status_response)
def operator_status():
    """Progress of an operator's leg. A phone that did not answer sends the caller back to the
    queue (a REST redirect, made after this response is sent)."""
    params = VoiceParams.parse(request.form)
    entry_id = _int_arg("entry")
    requeue_needed = connect.operator_leg_status(
        db.session,
        entry_id=entry_id,
        operator_id=_int_arg("op"),
        call_sid=params.call_sid,
        call_status=params.call_status,
    )
    if requeue_needed:
        base = public_base_url()
        after_response(
            lambda: connect.send_caller_back_to_queue(db.session, entry_id, base_url=base)
        )
    return empty_status_response()
