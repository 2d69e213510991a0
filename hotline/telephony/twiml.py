"""Turning TwiML documents into Flask responses, and the <Enqueue> verb every feature uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Response
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse


def twiml_response(document: TwiML | str, status: int = 200) -> Response:
    """Serialise a TwiML document as text/xml."""
    body = document if isinstance(document, str) else to_xml(document)
    return Response(body, status=status, mimetype="text/xml")


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


class _Unusual(Exception):
    """A document the fast writer leaves to the SDK (a value that is not text)."""


def to_xml(document: TwiML) -> str:
    """`document.to_xml()`, byte for byte, written out directly (issue 16).

    The SDK builds an xml.etree tree and serialises it through a BytesIO on every response;
    this walks the SDK's own objects (name, attrs, value, verbs) and writes what ElementTree
    would: attributes sorted, booleans as true/false, `&<>"` and CR/LF/TAB escaped in
    attributes, `&<>` in text, `<Verb ... />` when empty, UTF-8 with character references
    for what UTF-8 cannot hold. Anything unusual (a value that is not text) goes to the SDK.
    The test suite compares both on every document the app answers (tests/conftest.py) and
    over every verb and attribute (tests/speed/test_twiml_writer.py).
    """
    out = [XML_DECLARATION]
    try:
        _write(document, out)
    except _Unusual:
        return document.to_xml()
    body = "".join(out)
    if not body.isascii():
        body = body.encode("utf-8", "xmlcharrefreplace").decode("utf-8")
    return body


def _write(node: TwiML, out: list[str]) -> None:
    out.append("<" + node.name)
    attrs = node.attrs
    for key in sorted(attrs):
        value = attrs[key]
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif not isinstance(value, str):
            value = str(value)
        out.append(f' {key}="{_escape_attribute(value)}"')
    text = node.value or None
    if text is not None and not isinstance(text, str):
        if not isinstance(text, dict):
            raise _Unusual
        text = json.dumps(text)
    # ElementTree's rules for mixed content: a string before any child verb replaces the
    # element's text, a string after one becomes that child's tail (the last string wins).
    children: list[list] = []
    for verb in node.verbs:
        if isinstance(verb, str):
            if children:
                children[-1][1] = verb
            else:
                text = verb
        else:
            children.append([verb, None])
    if not text and not children:
        out.append(" />")
        return
    out.append(">")
    if text:
        out.append(_escape_text(text))
    for child, tail in children:
        _write(child, out)
        if tail:
            out.append(_escape_text(tail))
    out.append("</" + node.name + ">")


def _escape_text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _escape_attribute(text: str) -> str:
    text = _escape_text(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "\n" in text:
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#09;")
    return text


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
