"""THE voice and speaking-rate rule, and the one way we speak to a caller (`add_say`).

Every voice prompt (the IVR's scripts, the queue's announcements, the callback greeting, the
fallback of last resort) goes through `add_say`, so a caller hears the same slow, clear speech
everywhere (mission rule 5):

- Voices per language (`VOICES`), used when no IVR script names one. Cantonese is
  `Polly.Hiujin-Neural`: Amazon Polly's Hiujin exists only as a neural voice, and Twilio names
  neural Polly voices with the `-Neural` suffix, so the bare `Polly.Hiujin` that two copies used
  was not a voice Twilio knows; the yue-HK script and the fallback already used the neural id.
- Speaking rate: 85 % by default, 75 % for hard-of-hearing callers, or the caller's own rate
  when an operator set one (`rate_for`).
- Runs of three or more digits are read digit by digit ("12345" -> 一二三四五).
"""

from __future__ import annotations

import re
from typing import Protocol

from twilio.twiml.voice_response import Gather, Say, VoiceResponse

#: The TTS voice per script language, when no script names one.
VOICES = {"zh-CN": "Polly.Zhiyu", "yue-HK": "Polly.Hiujin-Neural", "en-US": "Polly.Joanna"}
#: Slow and clear: every prompt's rate unless a script or the caller says otherwise.
DEFAULT_RATE = 85
#: Hard-of-hearing callers hear every prompt slower.
HARD_OF_HEARING_RATE = 75
#: Twilio's language codes per script language: for <Say>, and for speech recognition.
SAY_LANGUAGE = {"zh-CN": "cmn-CN", "yue-HK": "yue-CN", "en-US": "en-US"}
SPEECH_LANGUAGE = {"zh-CN": "zh-CN", "yue-HK": "zh-HK", "en-US": "en-US"}
#: Runs of this many digits or more are read digit by digit.
DIGIT_RUN = re.compile(r"\d{3,}")


class Spoken(Protocol):
    """What `add_say` needs (the IVR engine's `SayAction` is one)."""

    text: str
    language: str
    voice: str
    rate_percent: int
    audio_url: str | None


def voice_for(language: str) -> str:
    """The default TTS voice for `language` (Mandarin's when the language is unknown)."""
    return VOICES.get(language, VOICES["zh-CN"])


def rate_for(
    *,
    speech_rate_percent: int | None = None,
    is_hard_of_hearing: bool = False,
    default: int | None = DEFAULT_RATE,
) -> int | None:
    """The caller's speaking rate: their own, else 75 % when hard of hearing, else `default`."""
    if speech_rate_percent:
        return speech_rate_percent
    if is_hard_of_hearing:
        return HARD_OF_HEARING_RATE
    return default


def add_say(parent: VoiceResponse | Gather, action: Spoken) -> None:
    """Speak slowly and clearly: SSML prosody at the action's rate, numbers digit by digit
    (or play the recording when the action has one)."""
    audio_url = getattr(action, "audio_url", None)
    if audio_url:
        parent.play(audio_url)
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
