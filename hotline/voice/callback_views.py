"""Twilio's callback-call webhooks (blueprint `callbacks_twilio`): answer with answering-machine
detection, and status; thin, signed (checked for every /twilio/ URL before any view runs) and
idempotent (`twilio_webhook`).

POST /twilio/callbacks/answer?attempt=N and /twilio/callbacks/status?attempt=N; a check-in call
(关爱回访) answered by a person asks its question there, and the answer comes to
/twilio/checkins/input?episode=E&lang=L&turn=N (N: silences so far, also keeping each request
unique for the webhook guard).
"""

from __future__ import annotations

from flask import Blueprint, current_app, request, url_for

from hotline.callbacks import service
from hotline.callbacks.render import answer_twiml
from hotline.db import db
from hotline.ivr import checkin
from hotline.ivr.render import render_step
from hotline.telephony.params import GatherParams, StatusParams, VoiceParams
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
    if isinstance(result, flow.CheckinCall):
        return twiml_response(_checkin_question(result, silences=0))
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


# --------------------------------------------------------------------------- check-in calls


def _scripts():
    return current_app.extensions["hotline.ivr_scripts"]


def _checkin_question(call: flow.CheckinCall, *, silences: int):
    script = flow.checkin_script(_scripts(), call.language)
    action = url_for(
        "callbacks_twilio.checkin_input",
        episode=call.episode_id,
        lang=script.language,
        turn=silences,
    )
    return checkin.question_twiml(
        script,
        name=call.name,
        line_name=call.line.name,
        action=action,
        rate_percent=call.rate_percent,
        timeout_seconds=call.timeout_seconds,
        repeat=silences > 0,
    )


def _int_arg(name: str) -> int:
    raw = request.args.get(name, "").strip()
    if not raw.isdigit():
        raise BadWebhook(f"{name} is missing")
    return int(raw)


@bp.post("/twilio/checkins/input")
@twilio_webhook("checkin_input", on_failure=_answer_failed)
def checkin_input():
    """The elder answered the check-in question: a key, words, or silence."""
    params = VoiceParams.parse(request.form)
    gathered = GatherParams.parse(request.form)
    episode_id = _int_arg("episode")
    silences = min(_int_arg("turn"), 5)
    language = request.args.get("lang", "zh-CN")[:16]
    answer = flow.checkin_input(
        db.session,
        _scripts(),
        params,
        gathered,
        episode_id=episode_id,
        language=language,
        silences=silences,
    )
    if answer.closed_step is not None:
        return twiml_response(
            render_step(answer.closed_step, queue_name=answer.line.queue_name, urls=voice_urls())
        )
    if answer.decision.kind == "repeat":
        action = url_for(
            "callbacks_twilio.checkin_input",
            episode=episode_id,
            lang=answer.script.language,
            turn=silences + 1,
        )
        return twiml_response(
            checkin.question_twiml(
                answer.script,
                name="",
                line_name=answer.line.name,
                action=action,
                rate_percent=answer.rate_percent,
                timeout_seconds=answer.timeout_seconds,
                repeat=True,
            )
        )
    return twiml_response(
        checkin.answer_twiml(
            answer.script,
            answer.decision,
            queue_name=answer.line.queue_name,
            urls=voice_urls(),
            rate_percent=answer.rate_percent,
        )
    )
