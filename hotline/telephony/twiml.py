"""Turning TwiML documents into Flask responses."""

from __future__ import annotations

from flask import Response
from twilio.twiml import TwiML


def twiml_response(document: TwiML | str, status: int = 200) -> Response:
    """Serialise a TwiML document as text/xml."""
    body = document if isinstance(document, str) else document.to_xml()
    return Response(body, status=status, mimetype="text/xml")


def empty_status_response() -> Response:
    """Status callbacks ignore the body: 204."""
    return Response(status=204)
