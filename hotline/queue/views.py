"""Queue webhooks' responses (minimal; the full queue feature replaces these)."""

from __future__ import annotations

from flask import current_app
from twilio.twiml.voice_response import VoiceResponse

from hotline.ivr.engine import SayAction
from hotline.ivr.render import add_say
from hotline.telephony.twiml import twiml_response


def wait_response(language: str):
    """A short, slow reassurance, then silence (no music under speech) until Twilio re-asks."""
    scripts = current_app.extensions["hotline.ivr_scripts"]
    script = scripts.get("main", language) or scripts.get("main", "zh-CN")
    response = VoiceResponse()
    if script is not None:
        add_say(
            response,
            SayAction(
                script.messages["queue_wait"], script.language, script.voice, script.rate_percent
            ),
        )
    response.pause(length=60)
    return twiml_response(response)


def exit_response(params, queue, language: str):
    """After the queue: nothing more to play."""
    del params, queue, language
    response = VoiceResponse()
    response.hangup()
    return twiml_response(response)
