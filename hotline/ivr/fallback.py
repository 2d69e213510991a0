"""The TwiML of last resort: needs no database and no script, so it works when nothing else does.

Used by POST /twilio/voice/fallback (Twilio's Fallback URL) and whenever a voice webhook fails
inside the app. The caller hears an apology, can leave a message, and is promised a callback;
the callback row is written when the database is back (see `flask spool replay`).

Also the check-in question of last resort (`builtin_checkin`): when no check-in script is loaded
at all (`flask ivr check` fails such a directory, but a deployment may skip it), an answered
check-in call still asks "all well? 1; help? 0" instead of failing.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from hotline.ivr.check import shared_emergency_kinds
from hotline.ivr.engine import SayAction
from hotline.ivr.schema import CheckinScript
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


#: The built-in check-in question, shortest form, per language: (messages, ok words).
BUILTIN_CHECKIN_TEXT: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "zh-CN": (
        {
            "greet": "{name},您好!这里是{line}的关爱回访。",
            "question": "一切都好请按1;需要帮忙请按0。",
            "not_understood": "没有听清楚。",
            "ok_goodbye": "好的,再见!",
            "to_person": "马上为您接通工作人员。",
        },
        ("好", "没事"),
    ),
    "yue-HK": (
        {
            "greet": "{name},您好!呢度系{line}嘅关爱回访。",
            "question": "一切都好请按1;要帮手请按0。",
            "not_understood": "听唔清楚。",
            "ok_goodbye": "好,拜拜!",
            "to_person": "即刻同您接通职员。",
        },
        ("好", "冇事"),
    ),
    "en-US": (
        {
            "greet": "Hello {name}, this is your {line} check-in.",
            "question": "All well? Press 1. Need help? Press 0.",
            "not_understood": "Sorry, I did not hear you.",
            "ok_goodbye": "Thank you, goodbye!",
            "to_person": "Putting you through to a person now.",
        },
        ("fine", "ok", "good", "yes"),
    ),
}


def builtin_checkin(language: str) -> CheckinScript:
    """The built-in check-in question in `language` (Mandarin for an unknown one)."""
    language = language if language in BUILTIN_CHECKIN_TEXT else "zh-CN"
    messages, ok_words = BUILTIN_CHECKIN_TEXT[language]
    return CheckinScript(
        path="<built-in>",
        language=language,
        voice=voice_for(language),
        rate_percent=DEFAULT_RATE,
        input_timeout_seconds=9,
        messages=dict(messages),
        ok_words=ok_words,
        emergency=shared_emergency_kinds(language),
    )
