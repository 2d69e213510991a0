"""Twilio's recording media host, as a `requests` transport the app's proxy fetches through
(app.config["RECORDING_MEDIA_SESSION"]): records each request and answers with audio bytes."""

from __future__ import annotations

import io

import requests


class FakeMedia(requests.adapters.BaseAdapter):
    """Answers every request with `body` (a WAV) and `status`; keeps the requests."""

    def __init__(self, body: bytes, status: int = 200):
        super().__init__()
        self.body = body
        self.status = status
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = "audio/x-wav"
        response.raw = io.BytesIO(self.body if self.status == 200 else b"{}")
        response.request, response.url = request, request.url
        return response

    def close(self):
        pass


def serve_media(app, body: bytes, status: int = 200) -> FakeMedia:
    """Make the app fetch recordings from a FakeMedia; returns it."""
    adapter = FakeMedia(body, status)
    session = requests.Session()
    session.mount("https://", adapter)
    app.config["RECORDING_MEDIA_SESSION"] = session
    return adapter
