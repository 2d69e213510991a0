"""The TwiML of last resort: needs no database and no script, so it works when nothing else does.

Used by POST /twilio/voice/fallback (Twilio's Fallback URL) and whenever a voice webhook fails
inside the app. The caller hears an apology, can leave a message, and is promised a callback;
the callback row is written when the database is back (see `flask spool replay`).
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from hotline.ivr.engine import SayAction
from hotline.telephony.speech import DEFAULT_RATE, add_say, voice_for

FALLBACK_TEXT = {
    "zh-CN": (
        "非常抱歉,系统暂时出了点问题。请在嘀声后说出您的姓名和需要帮助的事情,说完请挂机,"
        "我们会尽快给您回电。",
        "谢谢您,我们会尽快给您回电。再见。",
    ),
    "yue-HK": (
        "非常抱歉,系统暂时有啲问题。请喺嘀声之后讲低您嘅姓名同需要帮忙嘅事,讲完请收线,"
        "我哋会尽快覆电俾您。",
        "多谢您,我哋会尽快覆电俾您。再见。",
    ),
    "en-US": (
        "We are very sorry, our system has a problem right now. After the tone, please say your "
        "name and what you need help with, then hang up. We will call you back as soon as we can.",
        "Thank you. We will call you back soon. Goodbye.",
    ),
}


def fallback_twiml(language: str, *, record_action: str) -> VoiceResponse:
    """Apology, a voicemail (recorded to `record_action`), thanks, hang up."""
    language = language if language in FALLBACK_TEXT else "zh-CN"
    apology, thanks = FALLBACK_TEXT[language]
    voice = voice_for(language)
    response = VoiceResponse()
    add_say(response, SayAction(apology, language, voice, DEFAULT_RATE))
    response.record(
        action=record_action,
        method="POST",
        max_length=120,
        timeout=10,
        finish_on_key="#",
        play_beep=True,
    )
    add_say(response, SayAction(thanks, language, voice, DEFAULT_RATE))
    response.hangup()
    return response


def thanks_twiml(language: str = "zh-CN") -> VoiceResponse:
    """Thanks and hang up, after a fallback recording."""
    language = language if language in FALLBACK_TEXT else "zh-CN"
    response = VoiceResponse()
    add_say(
        response, SayAction(FALLBACK_TEXT[language][1], language, voice_for(language), DEFAULT_RATE)
    )
    response.hangup()
    return response
