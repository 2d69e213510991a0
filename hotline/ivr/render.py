"""Rendering engine steps as TwiML (pure: no database, no request)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, Say, VoiceResponse

from hotline.ivr.engine import (
    EnqueueAction,
    GatherAction,
    HangupAction,
    RecordAction,
    SayAction,
    Step,
)
from hotline.queue.service import add_enqueue, wait_url  # noqa: F401 (the <Enqueue> lives there)

#: Twilio's language codes per script language: for <Say>, and for speech recognition.
SAY_LANGUAGE = {"zh-CN": "cmn-CN", "yue-HK": "yue-CN", "en-US": "en-US"}
SPEECH_LANGUAGE = {"zh-CN": "zh-CN", "yue-HK": "zh-HK", "en-US": "en-US"}
#: Runs of this many digits or more are read digit by digit ("12345" -> 一二三四五).
DIGIT_RUN = re.compile(r"\d{3,}")


def input_url(node_id: str, language: str, turn: int) -> str:
    """The Gather action (and the Redirect after it, reached on silence).

    `turn` (the call's input count) makes each prompt's URL unique: two silences at the same
    menu are otherwise identical requests, and the webhook guard would take the second for a
    retry of the first.
    """
    return "/twilio/voice/input?" + urlencode({"node": node_id, "lang": language, "turn": turn})


def add_say(parent: VoiceResponse | Gather, action: SayAction) -> None:
    """Speak slowly and clearly: SSML prosody at the script's rate, numbers digit by digit."""
    if action.audio_url:
        parent.play(action.audio_url)
        return
    say: Say = parent.say(
        language=SAY_LANGUAGE.get(action.language, action.language), voice=action.voice or None
    )
    prosody = say.prosody(rate=f"{action.rate_percent}%")
    position = 0
    for match in DIGIT_RUN.finditer(action.text):
        if match.start() > position:
            prosody.append(action.text[position : match.start()])
        prosody.say_as(match.group(), interpret_as="digits")
        position = match.end()
    if position < len(action.text):
        prosody.append(action.text[position:])


def render_step(step: Step, *, queue_name: str) -> VoiceResponse:
    """Turn an engine step into the TwiML document returned to Twilio."""
    response = VoiceResponse()
    for action in step.actions:
        if isinstance(action, SayAction):
            add_say(response, action)
        elif isinstance(action, GatherAction):
            url = input_url(action.node_id, action.language, step.state.steps)
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
            add_enqueue(response, queue_name, action.language)
        elif isinstance(action, RecordAction):
            response.record(
                action="/twilio/voice/recorded?" + urlencode({"lang": action.language}),
                method="POST",
                max_length=action.max_length_seconds,
                timeout=10,
                finish_on_key="#",
                play_beep=True,
            )
        elif isinstance(action, HangupAction):
            response.hangup()
    return response
