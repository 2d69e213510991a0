"""Oversized and malformed bodies on every /twilio/ URL: refused before they are read (413) or
answered, never with a 500, and voice URLs always answer TwiML (issue 12, item 2)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from conftest import BASE_URL
from hotline.calls.models import WebhookEvent
from hotline.db import db
from hotline.security import MAX_REQUEST_BYTES
from hotline.telephony.webhooks import MAX_STORED_PARAM_CHARS
from twiml_grammar import check_twiml


def _twilio_urls(app) -> list[str]:
    return sorted({r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/twilio")})


def _is_sms(path: str) -> bool:
    return path.startswith("/twilio/sms")


def _assert_refused_properly(path: str, response, allowed: tuple[int, ...]) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code in allowed, (path, response.status_code, body[:200])
    if not _is_sms(path):
        assert response.mimetype == "text/xml", (path, response.mimetype, body[:200])
        assert not check_twiml(body, "voice"), (path, body)


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that remembers how much of it was read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


def test_every_twilio_url_refuses_a_huge_declared_body_without_reading_it(app, client):
    urls = _twilio_urls(app)
    assert len(urls) >= 20
    for path in urls:
        stream = CountingStream(150 * 1024 * 1024)
        response = client.post(
            path,
            environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": str(stream.size)},
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": "anything"},
        )
        _assert_refused_properly(path, response, (413,))
        assert stream.read_bytes == 0, f"{path} read {stream.read_bytes} bytes of a refused body"


def test_an_oversized_body_without_a_length_is_cut_off_at_the_limit(app):
    """A chunked body (no Content-Length; gunicorn sets wsgi.input_terminated) stops at the
    limit instead of being read whole."""
    for path in ("/twilio/voice", "/twilio/sms", "/twilio/queue/join"):
        stream = CountingStream(10 * 1024 * 1024)
        environ = EnvironBuilder(
            path=path,
            method="POST",
            base_url=BASE_URL,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": "anything", "Transfer-Encoding": "chunked"},
        ).get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
        response = Response.from_app(app, environ)
        _assert_refused_properly(path, response, (413,))
        assert stream.read_bytes <= 2 * MAX_REQUEST_BYTES


MALFORMED_BODIES = [
    ("application/x-www-form-urlencoded", b"CallSid=%ZZ&From=%E4%B8&&=&==" + b"%" * 50),
    ("application/x-www-form-urlencoded", b"\xff\xfe\x00garbage=\x80\x81"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n"),
    ("multipart/form-data", b"no boundary at all"),
    ("application/json", b'{"CallSid": '),
    ("text/plain", b"\x00" * 100),
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED_BODIES)
def test_malformed_bodies_never_give_a_500_and_voice_urls_answer_twiml(
    app, client, content_type, body
):
    for path in _twilio_urls(app):
        response = client.post(
            path, data=body, content_type=content_type, headers={"X-Twilio-Signature": "forged"}
        )
        _assert_refused_properly(path, response, (400, 403, 413))


def test_a_signed_but_incomplete_voice_request_answers_twiml(app, twilio):
    """The webhook guard's 400 (BadWebhook) is spoken by Twilio: it must be TwiML too."""
    for path in _twilio_urls(app):
        response = twilio.post(path, {"Unexpected": "x"})
        assert response.status_code < 500, (path, response.get_data(as_text=True))
        if response.status_code >= 400:
            _assert_refused_properly(path, response, (400, 404, 405))


def test_a_signed_huge_field_is_stored_capped(app, twilio):
    """A parameter under the request limit but far longer than Twilio sends is cut when kept."""
    call_sid = twilio.new_call_sid()
    params = twilio.call_params(call_sid)
    params["Padding"] = "x" * (MAX_REQUEST_BYTES // 2)
    # A webhook answered with TwiML keeps every parameter (a status callback keeps a few).
    response = twilio.post("/twilio/voice", params)
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(select(WebhookEvent).where(WebhookEvent.sid == call_sid))
        assert event is not None
        assert len(event.params["Padding"]) == MAX_STORED_PARAM_CHARS
        assert event.params["CallSid"] == call_sid


def test_the_request_limit_is_set_and_cannot_be_raised(make_app):
    application = make_app(MAX_CONTENT_LENGTH=500 * 1024 * 1024)
    assert application.config["MAX_CONTENT_LENGTH"] == MAX_REQUEST_BYTES
