"""A tiny Twilio-compatible REST stub for the benchmark (threaded http.server on 127.0.0.1).

The hotline's twilio SDK is pointed at it with TWILIO_API_BASE_URL. It answers like Twilio's
2010-04-01 API (201 on create, 200 on update and lists, 204 on delete, Twilio-shaped JSON) and
tells the load generator what the app asked for, the way Twilio would act on it:

- `Calls.json` (create): the app rings an operator; `on_call_created(form)` receives the form
  (To, Url, StatusCallback, ...) and the new CallSid, so the simulated operator can answer it.
- `Queues/{QU}/Members/{CA}.json` (update): the app dequeues a caller; `on_dequeue(call_sid,
  form)` receives the Url the caller's call must now fetch.

Handlers run in the server's threads: they must be thread-safe (the load generator hands them
to its event loop with `call_soon_threadsafe`).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CallHandler = Callable[[str, dict[str, str]], None]

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>AC\w+)"
ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(_ACCOUNT + pattern + r"\.json$"))
    for kind, pattern in (
        ("calls", r"/Calls"),
        ("call", r"/Calls/(?P<sid>CA\w+)"),
        ("queues", r"/Queues"),
        ("member", r"/Queues/(?P<queue>QU\w+)/Members/(?P<sid>\w+)"),
        ("conferences", r"/Conferences"),
        ("participants", r"/Conferences/(?P<conference>[^/]+)/Participants"),
        ("participant", r"/Conferences/(?P<conference>[^/]+)/Participants/(?P<sid>CA\w+)"),
        ("messages", r"/Messages"),
        ("message", r"/Messages/(?P<sid>SM\w+)"),
    )
]


def _sid(prefix: str, number: int) -> str:
    return prefix + f"{number:032x}"


def _page(key: str, records: list[dict], path: str) -> dict:
    return {
        key: records,
        "first_page_uri": path,
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": 50,
        "start": 0,
        "end": len(records),
        "uri": path,
    }


class TwilioStub:
    """The stub server: `start()`, `url`, `stop()`; `counts` per kind of request."""

    def __init__(
        self,
        *,
        queue_name: str = "line-main",
        on_call_created: CallHandler | None = None,
        on_dequeue: CallHandler | None = None,
    ) -> None:
        self.queue_name = queue_name
        self.queue_sid = _sid("QU", 1)
        self.on_call_created = on_call_created
        self.on_dequeue = on_dequeue
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> TwilioStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # quiet
                return

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, payload = stub.handle(self.command, self.path, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ the API

    def next_sid(self, prefix: str) -> str:
        with self._lock:
            return _sid(prefix, next(self._numbers))

    def handle(self, method: str, raw_path: str, body: str) -> tuple[int, dict | None]:
        """(status, JSON body) for one REST request, as Twilio would answer it."""
        path = urlsplit(raw_path).path
        form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
        for kind, pattern in ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            with self._lock:
                self.counts[f"{method} {kind}"] += 1
            try:
                return self._route(kind, method, match.groupdict(), form, path)
            except Exception as exc:  # noqa: BLE001 - reported, never raised into the server
                with self._lock:
                    self.errors.append(f"{method} {path}: {exc!r}")
                return 500, {"code": 20500, "message": "stub failure", "status": 500}
        with self._lock:
            self.counts[f"{method} unknown"] += 1
            self.errors.append(f"unknown {method} {path}")
        return 404, {"code": 20404, "message": "not found", "status": 404}

    def _route(self, kind: str, method: str, ids: dict, form: dict, path: str):
        account = ids["account"]
        if method == "DELETE":
            return 204, None
        if kind == "calls" and method == "POST":
            sid = self.next_sid("CA")
            if self.on_call_created is not None:
                self.on_call_created(sid, form)
            return 201, self._call(sid, account, form, status="queued")
        if kind == "calls":
            return 200, _page("calls", [], path)
        if kind == "call":
            return 200, self._call(
                ids["sid"], account, form, status=form.get("Status", "in-progress")
            )
        if kind == "queues":
            queue = {
                "sid": self.queue_sid,
                "friendly_name": self.queue_name,
                "current_size": 0,
                "max_size": 100,
                "account_sid": account,
            }
            return 200, _page("queues", [queue], path)
        if kind == "member":
            if method == "POST" and self.on_dequeue is not None:
                self.on_dequeue(ids["sid"], form)
            return 200, {
                "call_sid": ids["sid"],
                "queue_sid": ids["queue"],
                "position": 1,
                "wait_time": 0,
                "date_enqueued": None,
                "uri": path,
            }
        if kind == "conferences":
            return 200, _page("conferences", [], path)
        if kind in ("participants", "participant"):
            sid = ids.get("sid") or self.next_sid("CA")
            if kind == "participants" and self.on_call_created is not None:
                self.on_call_created(sid, form)
            status = 201 if kind == "participants" else 200
            return status, {
                "call_sid": sid,
                "conference_sid": _sid("CF", 1),
                "account_sid": account,
                "status": "queued",
                "hold": form.get("Hold") == "true",
                "label": form.get("Label"),
            }
        if kind == "messages":
            if method == "POST":
                return 201, {
                    "sid": self.next_sid("SM"),
                    "status": "queued",
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "account_sid": account,
                    "num_segments": "1",
                }
            return 200, _page("messages", [], path)
        if kind == "message":
            return 200, {"sid": ids["sid"], "status": "delivered", "account_sid": account}
        return 404, {"code": 20404, "message": "not found", "status": 404}

    @staticmethod
    def _call(sid: str, account: str, form: dict, *, status: str) -> dict:
        return {
            "sid": sid,
            "account_sid": account,
            "to": form.get("To"),
            "from": form.get("From"),
            "status": status,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
        }
