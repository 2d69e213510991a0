"""Test harness: a stand-in hotline app and the dev gateway, both on real local HTTP servers.

The stand-in checks every webhook's X-Twilio-Signature with twilio's RequestValidator, exactly
as the hotline does, and answers with TwiML scripted per test. The gateway runs with the manual
clock, so tests move time explicitly and never sleep. (A module of its own, not conftest.py:
test modules import these names, and importing a conftest by name would shadow the root one.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Request, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wsgi import ClosingIterator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "dev-auth-token"
LINE = "+861012345678"
ELDER = "+8613123456701"
OPERATOR = "+8613900000001"


class InFlight:
    """WSGI middleware counting the hotline's requests until their response is closed: Flask
    runs the work registered with `after_response` (REST requests to the gateway) on close,
    after the gateway already has the answer. The gateway's idle check waits for them."""

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app
        self.lock = threading.Lock()
        self.count = 0

    def busy(self) -> bool:
        return self.count > 0

    def _done(self) -> None:
        with self.lock:
            self.count -= 1

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
        try:
            body = self.wsgi_app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return ClosingIterator(body, [self._done])


class LocalServer:
    """A WSGI app served on 127.0.0.1 by a werkzeug server in a daemon thread."""

    def __init__(self, app: Callable[..., Any]) -> None:
        """Bind a free port and start serving."""
        self.app = app
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, lambda environ, start: self.app(environ, start), threaded=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        """Stop serving and release the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class Received:
    """One webhook the stand-in received."""

    path: str
    url: str
    method: str
    args: dict[str, str]
    form: dict[str, str]
    form_items: list[tuple[str, str]]
    signature_ok: bool

    def __getitem__(self, name: str) -> str:
        """A form parameter."""
        return self.form[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        """A form parameter or `default`."""
        return self.form.get(name, default)


Handler = Callable[[Request], Any]


@dataclass
class StandIn:
    """The stand-in hotline: scripted TwiML per path, every request recorded."""

    token: str = AUTH_TOKEN
    routes: dict[str, Handler | str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: LocalServer | None = None

    @property
    def url(self) -> str:
        """Base URL of the stand-in."""
        assert self.server is not None
        return self.server.url

    def route(self, path: str, answer: Handler | str) -> None:
        """Answer `path` with fixed TwiML or with handler(request) -> body or (body, status)."""
        self.routes[path] = answer

    def requests_to(self, path: str) -> list[Received]:
        """Requests received on `path`, oldest first."""
        with self.lock:
            return [r for r in self.received if r.path == path]

    def last(self, path: str) -> Received:
        """The most recent request on `path`."""
        found = self.requests_to(path)
        assert found, f"no request to {path}; got {[r.path for r in self.received]}"
        return found[-1]

    def paths(self) -> list[str]:
        """Every path requested, in order."""
        with self.lock:
            return [r.path for r in self.received]

    def build_app(self) -> Flask:
        """The Flask app: verify the signature like the hotline, record, answer."""
        app = Flask("standin")
        validator = RequestValidator(self.token)

        @app.route("/<path:_path>", methods=["GET", "POST"])
        def any_path(_path: str) -> Any:
            """Every path: 403 on a bad signature, else the scripted answer."""
            signature = request.headers.get("X-Twilio-Signature", "")
            params = request.form if request.method == "POST" else {}
            valid = bool(signature) and validator.validate(request.url, params, signature)
            record = Received(
                path=request.path, url=request.url, method=request.method,
                args=dict(request.args.items()), form=dict(request.form.items()),
                form_items=list(request.form.items(multi=True)), signature_ok=valid,
            )  # fmt: skip
            with self.lock:
                self.received.append(record)
            if not valid:
                return "bad signature", 403
            answer = self.routes.get(request.path)
            if answer is None:
                if request.path.endswith("/status") or "status" in request.path:
                    return "", 204
                return "not scripted", 404
            if isinstance(answer, str):
                return answer, 200, {"Content-Type": "text/xml"}
            result = answer(request)
            if isinstance(result, tuple):
                return result
            return result, 200, {"Content-Type": "text/xml"}

        return app


@dataclass
class Gateway:
    """The gateway under test: its app, simulator, URL and a JSON API helper."""

    app: Flask
    server: LocalServer
    session: requests.Session

    @property
    def url(self) -> str:
        """Base URL of the gateway."""
        return self.server.url

    @property
    def sim(self) -> Any:
        """The simulator."""
        return self.app.extensions["devgateway"]

    def api(self, method: str, path: str, expect: int | None = None, **payload: Any) -> Any:
        """Call the JSON API; checks the status when `expect` is given."""
        response = self.session.request(
            method, self.url + "/api" + path, json=payload or None, timeout=30
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    def dial(self, from_: str = ELDER, to: str = LINE, **payload: Any) -> dict[str, Any]:
        """A dev phone calls a line; returns the call view."""
        return self.api("POST", f"/phones/{from_}/calls", expect=201, to=to, **payload)["call"]

    def press(self, sid: str, digits: str, **payload: Any) -> dict[str, Any]:
        """Press keys."""
        return self.api("POST", f"/calls/{sid}/digits", expect=200, digits=digits, **payload)

    def say(self, sid: str, text: str, **payload: Any) -> dict[str, Any]:
        """Say something."""
        return self.api("POST", f"/calls/{sid}/speech", expect=200, text=text, **payload)

    def call(self, sid: str) -> dict[str, Any]:
        """A call with transcript and exchanges."""
        return self.api("GET", f"/calls/{sid}", expect=200)

    def advance(self, seconds: float) -> None:
        """Move the manual clock."""
        self.api("POST", "/clock/advance", expect=200, seconds=seconds)

    def idle(self) -> None:
        """Wait until everything settled."""
        assert self.api("POST", "/wait", expect=200)["idle"]


def twiml(body: str) -> str:
    """Wrap verbs in a TwiML document."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
