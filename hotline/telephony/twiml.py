"""Turning TwiML documents into Flask responses, and the <Enqueue> verb every feature uses."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse


def twiml_response(document: TwiML | str, status: int = 200) -> Response:
    """Serialise a TwiML document as text/xml."""
    body = document if isinstance(document, str) else document.to_xml()
    return Response(body, status=status, mimetype="text/xml")


def empty_status_response() -> Response:
    """Status callbacks ignore the body: 204."""
    return Response(status=204)


#: The <Enqueue> URLs, served by the voice orchestration (hotline.voice.views).
WAIT_PATH = "/twilio/voice/wait"
EXIT_PATH = "/twilio/voice/queue-exit"


def with_query(path: str, **params: object) -> str:
    """`path?k=v&...` with the parameters that are not None."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


def wait_url(language: str, turn: int | None = None) -> str:
    """The <Enqueue> waitUrl (and, with `turn`, the next round of the wait)."""
    return with_query(WAIT_PATH, lang=language, turn=turn)


def add_enqueue(response: VoiceResponse, queue_name: str, language: str) -> None:
    """Append the <Enqueue> that puts the caller into the Twilio queue `queue_name`.

    Twilio holds the caller there (a restart of our web processes drops nobody), asks WAIT_PATH
    what to play, and EXIT_PATH when the caller leaves it for any reason.
    """
    response.enqueue(
        queue_name,
        wait_url=wait_url(language),
        wait_url_method="POST",
        action=EXIT_PATH,
        method="POST",
    )
