"""The URLs the voice TwiML points Twilio at, built with url_for (request context only) and
passed into the pure renderers (see hotline.telephony.twiml.VoiceUrls)."""

from __future__ import annotations

from flask import url_for
from twilio.twiml.voice_response import VoiceResponse

from hotline.ivr.fallback import fallback_twiml
from hotline.telephony.twiml import VoiceUrls


def voice_urls() -> VoiceUrls:
    """The voice URLs the pure renderers put into TwiML, built here with url_for."""
    return VoiceUrls(
        menu_input=lambda node, lang, turn: url_for(
            "voice.menu_input", node=node, lang=lang, turn=turn
        ),
        recorded=lambda lang: url_for("voice.recorded", lang=lang),
        fallback_recorded=lambda lang: url_for("voice.fallback_recorded", lang=lang),
        queue_wait=lambda lang, turn: url_for("voice.queue_wait", lang=lang, turn=turn),
        queue_exit=url_for("voice.queue_exit"),
    )


def fallback_document(language: str) -> VoiceResponse:
    """The fallback voicemail in `language`, recording to our fallback recording URL."""
    return fallback_twiml(language, record_action=voice_urls().fallback_recorded(language))
