"""TwiML for an answered callback call (pure: no database, no request)."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from hotline.callbacks import texts
from hotline.callbacks.service import AnswerResult
from hotline.ivr.engine import SayAction
from hotline.ivr.schema import ScriptSet
from hotline.telephony.speech import DEFAULT_RATE, add_say, voice_for
from hotline.telephony.twiml import VoiceUrls, add_enqueue


def _say(result: AnswerResult, scripts: ScriptSet, text: str) -> SayAction:
    script = scripts.get(result.line.script_key, result.language)
    voice = script.voice if script else voice_for(result.language)
    rate = result.rate_percent or (script.rate_percent if script else DEFAULT_RATE)
    return SayAction(text=text, language=result.language, voice=voice, rate_percent=rate)


def answer_twiml(result: AnswerResult, scripts: ScriptSet, *, urls: VoiceUrls) -> VoiceResponse:
    """A person: one slow sentence, then the queue. A machine: our number. A fax: hang up."""
    response = VoiceResponse()
    if result.kind == "person":
        add_say(
            response,
            _say(result, scripts, texts.person_greeting(result.language, result.line.name)),
        )
        if result.line.is_recording_enabled:
            # The conversation that follows is recorded: the callee hears so first, as callers
            # do in the greeting (the script's recording_notice, or the built-in sentence).
            script = scripts.get(result.line.script_key, result.language)
            notice = (
                script.message("recording_notice")
                if script is not None
                else texts.recording_notice(result.language)
            )
            add_say(response, _say(result, scripts, notice))
        add_enqueue(response, result.line.queue_name, result.language, urls)
        return response
    if result.kind == "machine":
        message = texts.machine_message(result.language, result.line.name, result.line.phone_number)
        add_say(response, _say(result, scripts, message))
    response.hangup()
    return response
