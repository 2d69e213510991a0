"""Twilio's recording media host, as a `requests` transport the app's proxy fetches through
(app.config["RECORDING_MEDIA_SESSION"]): records each request and answers with audio bytes."""

from __future__ import annotations

import io

import requests


class FakeMedia(requests.adapters.BaseAdapter):
    """Answers every request with `body` (a WAV) and `status`, a byte range with 206 as
    Twilio's media host does; keeps the requests."""

    def __init__(
        self,
        body: bytes,
        status: int = 200,
        *,
        content_type: str = "audio/x-wav",
        accept_ranges: str | None = "bytes",
    ):
        super().__init__()
        self.body = body
        self.status = status
        self.content_type = content_type
        self.accept_ranges = accept_ranges
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = self.content_type
        if self.accept_ranges:
            response.headers["Accept-Ranges"] = self.accept_ranges
        body = self.body if self.status == 200 else b"{}"
        wanted = request.headers.get("Range", "")
        if self.status == 200 and wanted.startswith("bytes=") and wanted != "bytes=0-":
            start, _, end = wanted[len("bytes=") :].partition("-")
            last = int(end) if end else len(body) - 1
            response.status_code = 206
            response.headers["Content-Range"] = f"bytes {start}-{last}/{len(body)}"
            body = body[int(start) : last + 1]
        response.headers["Content-Length"] = str(len(body))
        response.raw = io.BytesIO(body)
        response.request, response.url = request, request.url
        return response

    def close(self):
        pass


def serve_media(app, body: bytes, status: int = 200, **headers) -> FakeMedia:
    """Make the app fetch recordings from a FakeMedia (`headers`: its content_type and
    accept_ranges); returns it."""
    adapter = FakeMedia(body, status, **headers)
    session = requests.Session()
    session.mount("https://", adapter)
    app.config["RECORDING_MEDIA_SESSION"] = session
    return adapter
