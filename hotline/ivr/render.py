"""Rendering engine steps as TwiML (pure: no database, no request)."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from hotline.ivr.engine import (
    EnqueueAction,
    GatherAction,
    HangupAction,
    RecordAction,
    SayAction,
    Step,
)
from hotline.telephony.speech import SPEECH_LANGUAGE, add_say
from hotline.telephony.twiml import VoiceUrls, add_enqueue


def render_step(step: Step, *, queue_name: str, urls: VoiceUrls) -> VoiceResponse:
    """Turn an engine step into the TwiML document returned to Twilio.

    Each menu prompt's action URL carries the call's input count (`turn`), so it is unique: two
    silences at the same menu would otherwise be identical requests, and the webhook guard
    would take the second for a retry of the first.
    """
    response = VoiceResponse()
    for action in step.actions:
        if isinstance(action, SayAction):
            add_say(response, action)
        elif isinstance(action, GatherAction):
            url = urls.menu_input(action.node_id, action.language, step.state.steps)
            gather = response.gather(
                action=url,
                method="POST",
                input="dtmf speech",
                num_digits=1,
                timeout=action.timeout_seconds,
                speech_timeout="auto",
                language=SPEECH_LANGUAGE.get(action.language, action.language),
                hints=", ".join(action.hints) if action.hints else None,
            )
            for prompt in action.prompts:
                add_say(gather, prompt)
            # Without input Twilio goes on to the next verb: come back to count the silence.
            response.redirect(url, method="POST")
        elif isinstance(action, EnqueueAction):
            add_enqueue(response, queue_name, action.language, urls)
        elif isinstance(action, RecordAction):
            response.record(
                action=urls.recorded(action.language),
                method="POST",
                max_length=action.max_length_seconds,
                timeout=10,
                finish_on_key="#",
                play_beep=True,
            )
        elif isinstance(action, HangupAction):
            response.hangup()
    return response
