"""Turning TwiML documents into Flask responses, and the <Enqueue> verb every feature uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class VoiceUrls:
    """Where a TwiML document sends Twilio next.

    Built by the voice views with `url_for` (`hotline.voice.views.voice_urls`) and passed into
    the pure renderers (ivr/render.py, ivr/fallback.py, callbacks/render.py, queue/twiml.py),
    which never spell a path themselves: a route that moves changes in one place.
    """

    #: (node id, language, turn) -> the menu's Gather action (and the Redirect on silence).
    menu_input: Callable[[str, str, int], str]
    #: language -> the voicemail's Record action.
    recorded: Callable[[str], str]
    #: language -> the fallback voicemail's Record action.
    fallback_recorded: Callable[[str], str]
    #: (language, turn or None) -> the <Enqueue> waitUrl (and the next round of the wait).
    queue_wait: Callable[[str, int | None], str]
    #: the <Enqueue> action, requested when the caller leaves the queue for any reason.
    queue_exit: str


def with_query(path: str, **params: object) -> str:
    """`path?k=v&...` with the parameters that are not None."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


def add_enqueue(response: VoiceResponse, queue_name: str, language: str, urls: VoiceUrls) -> None:
    """Append the <Enqueue> that puts the caller into the Twilio queue `queue_name`.

    Twilio holds the caller there (a restart of our web processes drops nobody), asks
    `urls.queue_wait` what to play, and `urls.queue_exit` when the caller leaves it.
    """
    response.enqueue(
        queue_name,
        wait_url=urls.queue_wait(language, None),
        wait_url_method="POST",
        action=urls.queue_exit,
        method="POST",
    )
