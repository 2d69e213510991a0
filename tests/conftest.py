"""Shared fixtures: the app on SQLite (or PostgreSQL), signed Twilio requests, a recording
twilio http_client, factories, and a TwiML grammar check on every TwiML response.

Run the whole suite on PostgreSQL with HOTLINE_TEST_DB=postgres (see README). PostgreSQL-only
tests (concurrency, locking) use the `pg_url` fixture: they run when a server is reachable at
HOTLINE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and are
skipped with a message otherwise, unless HOTLINE_REQUIRE_POSTGRES=1 makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import create_engine, text
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from hotline import create_app
from hotline.db import Base, db
from twiml_grammar import check_twiml

TEST_ACCOUNT_SID = "AC" + "1" * 32
TEST_AUTH_TOKEN = "test-auth-token-0123456789"
BASE_URL = "http://localhost"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


# --------------------------------------------------------------------------- PostgreSQL


def _pg_admin_url() -> str:
    return os.environ.get("HOTLINE_TEST_POSTGRES_URL", DEFAULT_PG_ADMIN_URL)


def _sa_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


_PG_STATE: dict[str, Any] = {}


def postgres_available() -> str | None:
    """None when PostgreSQL is reachable, else the reason it is not."""
    if "error" not in _PG_STATE:
        try:
            engine = create_engine(_sa_url(_pg_admin_url()), connect_args={"connect_timeout": 2})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _PG_STATE["error"] = None
        except Exception as exc:  # noqa: BLE001
            _PG_STATE["error"] = f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    return _PG_STATE["error"]


def skip_without_postgres() -> None:
    """Skip (or, with HOTLINE_REQUIRE_POSTGRES=1, fail) when no PostgreSQL is reachable."""
    error = postgres_available()
    if error is None:
        return
    message = (
        f"PostgreSQL not reachable at {_pg_admin_url()} ({error}); start one and set "
        "HOTLINE_TEST_POSTGRES_URL=postgresql://USER@HOST:PORT/postgres to run these tests"
    )
    if os.environ.get("HOTLINE_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class PostgresDatabases:
    """Throwaway PostgreSQL databases on the test server, reused through a pool.

    DROP DATABASE forces a checkpoint (seconds each on a slow disk), so a finished test's
    database is wiped instead (its connections ended, its public schema recreated) and handed
    to the next test; the pool is dropped once at the end of the session.
    """

    def __init__(self) -> None:
        self.created: list[str] = []
        self.free: list[str] = []
        self.admin = create_engine(_sa_url(_pg_admin_url()), isolation_level="AUTOCOMMIT")

    def _url(self, name: str) -> str:
        base = _sa_url(_pg_admin_url()).rsplit("/", 1)[0]
        return f"{base}/{name}"

    def create(self, prefix: str = "hotline_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self._url(name)

    def acquire(self) -> str:
        """An empty database: a wiped one from the pool, or a new one."""
        if self.free:
            return self._url(self.free.pop())
        return self.create()

    def release(self, url: str) -> None:
        """End the database's connections, empty it, and return it to the pool."""
        name = url.rsplit("/", 1)[1]
        with self.admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()
        self.free.append(name)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    """Factory of throwaway PostgreSQL databases (skips when there is no server)."""
    skip_without_postgres()
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture
def pg_url(pg_databases: PostgresDatabases) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (wiped and reused afterwards)."""
    url = pg_databases.acquire()
    yield url
    pg_databases.release(url)


def _suite_on_postgres() -> bool:
    return os.environ.get("HOTLINE_TEST_DB", "sqlite").lower() in ("postgres", "postgresql", "pg")


@pytest.fixture(scope="session")
def _suite_pg_url(request) -> Iterator[str | None]:
    """With HOTLINE_TEST_DB=postgres: one database for the session, tables emptied per test."""
    if not _suite_on_postgres():
        yield None
        return
    skip_without_postgres()
    databases = PostgresDatabases()
    url = databases.create("hotline_suite")
    import hotline.models  # noqa: F401

    engine = create_engine(_sa_url(url))
    Base.metadata.create_all(engine)
    engine.dispose()
    yield _sa_url(url)
    databases.drop_all()


# --------------------------------------------------------------------------- the app


@dataclass
class RecordedRequest:
    method: str
    url: str
    data: dict[str, list[str]]
    params: dict[str, Any] | None
    auth: tuple[str, str] | None


@dataclass
class RecordingHttpClient(HttpClient):
    """The twilio SDK's transport, recording the exact requests and answering like Twilio.

    `responses` maps a regex on "METHOD URL" to (status, JSON body) or a callable producing one.
    Unmatched requests get a generic resource for the kind of URL.
    """

    requests: list[RecordedRequest] = field(default_factory=list)
    responses: list[tuple[str, Any]] = field(default_factory=list)
    counter: int = 0

    def __post_init__(self) -> None:
        import logging

        super().__init__(logging.getLogger("tests.twilio_http"), False)

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        form: dict[str, list[str]] = {}
        items = data.items() if isinstance(data, dict) else parse_qsl(data or "")
        for key, value in items:
            values = value if isinstance(value, list) else [value]
            form.setdefault(key, []).extend(str(v) for v in values)
        self.requests.append(RecordedRequest(method, uri, form, params, auth))
        self.counter += 1
        target = f"{method} {uri}"
        for pattern, answer in self.responses:
            if re.search(pattern, target):
                status, body = answer(form) if callable(answer) else answer
                return TwilioResponse(status, json.dumps(body))
        return TwilioResponse(*self._default(method, uri, form))

    def _default(self, method: str, uri: str, form: dict[str, list[str]]) -> tuple[int, str]:
        n = f"{self.counter:030d}"
        if method == "DELETE":
            return 204, ""
        if "/Messages" in uri:
            body = {
                "sid": "SM" + n[-32:].rjust(32, "0"),
                "status": "queued",
                "to": form.get("To", [""])[0],
                "body": form.get("Body", [""])[0],
            }
        elif "/Participants" in uri:
            body = {
                "call_sid": "CA" + n[-32:].rjust(32, "0"),
                "conference_sid": "CF" + "0" * 32,
                "status": "queued",
            }
        elif "/Calls" in uri:
            sid = uri.rsplit("/", 1)[-1].removesuffix(".json")
            if not sid.startswith("CA"):
                sid = "CA" + n[-32:].rjust(32, "0")
            body = {"sid": sid, "status": "queued", "to": form.get("To", [""])[0]}
        elif "/Members" in uri:
            body = {"call_sid": uri.rsplit("/", 1)[-1].removesuffix(".json"), "position": 1}
        else:
            body = {"sid": "XX" + n[-32:]}
        return (
            201
            if method == "POST" and not re.search(r"/(CA|QU|CF)\w+(/Members/\w+)?\.json$", uri)
            else 200
        ), json.dumps(body)

    def find(self, method: str, url_part: str) -> list[RecordedRequest]:
        """Requests whose method matches and whose URL contains `url_part`."""
        return [r for r in self.requests if r.method == method and url_part in r.url]


@pytest.fixture
def http_client() -> RecordingHttpClient:
    """The recording transport the app's twilio Client uses in tests."""
    return RecordingHttpClient()


@pytest.fixture
def app_config(tmp_path, _suite_pg_url, http_client) -> dict:
    """Test configuration; tests may change it before the `app` fixture is created."""
    url = _suite_pg_url or f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": url,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": None,
        "TWILIO_HTTP_CLIENT": http_client,
        "LOCAL_TELEPHONY": False,
        "PUBLIC_BASE_URL": None,
        "FALLBACK_SPOOL_DIR": str(tmp_path / "spool"),
        "WTF_CSRF_ENABLED": False,
    }


def add_main_line() -> None:
    """The test line, open 24/7 ('main', +861012345678), in the current app's database."""
    from hotline.lines.models import Line
    from hotline.seed import DEMO_LINE_NUMBER

    db.session.add(
        Line(
            key="main",
            name="长者服务热线",
            phone_number=DEMO_LINE_NUMBER,
            script_key="main",
            is_open_every_day=True,
            opens_at=time(0, 0),
            closes_at=time(0, 0),
        )
    )
    db.session.commit()


@pytest.fixture(autouse=True)
def _twiml_writer_matches_the_sdk(monkeypatch):
    """Every TwiML document the app answers is also serialised by the twilio SDK
    (`document.to_xml()`): the fast writer (hotline.telephony.twiml.to_xml, issue 16) must give
    the same bytes."""
    from hotline.telephony import twiml as twiml_module

    fast = twiml_module.to_xml

    def checked(document):
        body = fast(document)
        expected = document.to_xml()
        assert body == expected, f"fast TwiML writer differs from the SDK:\n{body}\n{expected}"
        return body

    monkeypatch.setattr(twiml_module, "to_xml", checked)


@pytest.fixture
def app(app_config, _suite_pg_url):
    """A hotline app with an empty schema and one line open 24/7 ('main', +861012345678)."""
    application = create_app(app_config)
    with application.app_context():
        if _suite_pg_url is None:
            db.create_all()
        add_main_line()
    yield application
    with application.app_context():
        db.session.close()
        if _suite_pg_url is not None:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def make_app(app_config):
    """Another app on the same settings with overrides; its engine is disposed afterwards."""
    apps = []

    def _make(**overrides):
        application = create_app({**app_config, **overrides})
        apps.append(application)
        return application

    yield _make
    for application in apps:
        with application.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session inside an app context."""
    with app.app_context():
        yield db.session


# --------------------------------------------------------------------------- Twilio requests


@dataclass
class TwilioCaller:
    """Sends requests signed exactly as Twilio signs them, and checks TwiML answers."""

    client: Any
    token: str = TEST_AUTH_TOKEN
    base_url: str = BASE_URL
    counter: int = 0

    def sign(self, url: str, params: dict) -> str:
        return RequestValidator(self.token).compute_signature(url, params)

    def post(
        self,
        path: str,
        params: dict,
        *,
        signature: str | None = None,
        check: bool = True,
        headers: dict | None = None,
    ):
        url = self.base_url + path
        sig = self.sign(url, params) if signature is None else signature
        response = self.client.post(
            path, data=params, headers={"X-Twilio-Signature": sig, **(headers or {})}
        )
        if check and response.mimetype == "text/xml":
            body = response.get_data(as_text=True)
            kind = "messaging" if path.startswith("/twilio/sms") else "voice"
            problems = check_twiml(body, kind)
            assert not problems, f"invalid TwiML from {path}: {problems}\n{body}"
        return response

    def new_call_sid(self) -> str:
        self.counter += 1
        return "CA" + uuid.uuid4().hex

    def call_params(
        self, call_sid: str, from_: str = "+8613123456799", to: str = "+861012345678", **extra
    ) -> dict:
        params = {
            "CallSid": call_sid,
            "AccountSid": TEST_ACCOUNT_SID,
            "From": from_,
            "To": to,
            "Caller": from_,
            "Called": to,
            "CallStatus": "ringing",
            "ApiVersion": "2010-04-01",
            "Direction": "inbound",
        }
        params.update({k: v for k, v in extra.items() if v is not None})
        return params


@pytest.fixture
def twilio(client) -> TwilioCaller:
    """Post signed Twilio webhooks: twilio.post('/twilio/voice', params)."""
    return TwilioCaller(client)


def follow(
    twilio: TwilioCaller,
    response,
    params: dict,
    *,
    digits: str | None = None,
    speech: str | None = None,
):
    """Act like Twilio on a TwiML answer: post the Gather action with input, or the Redirect
    after it on silence. Returns the next response."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.get_data())
    gather = root.find("Gather")
    assert gather is not None, f"no <Gather> in {response.get_data(as_text=True)}"
    extra = {}
    if digits is None and speech is None:
        redirect = root.find("Redirect")
        assert redirect is not None, "a <Gather> must be followed by a <Redirect> for silence"
        url = redirect.text
    else:
        url = gather.get("action")
        if digits is not None:
            extra["Digits"] = digits
        if speech is not None:
            extra["SpeechResult"] = speech
            extra["Confidence"] = "0.91"
    return twilio.post(url, {**params, "CallStatus": "in-progress", **extra})


@pytest.fixture
def make_caller(app) -> Callable[..., Any]:
    """Create a caller profile: make_caller(phone_number="+8613...", display_name="王阿姨")."""
    from hotline.callers.models import Caller

    def _make(**fields):
        fields.setdefault("phone_number", "+8613123456701")
        with app.app_context():
            caller = Caller(**fields)
            db.session.add(caller)
            db.session.commit()
            return caller.id

    return _make


def urlencode_params(params: dict) -> str:
    return urlencode(params)


# Browser fixtures (live_server, chromium, page, new_page) for tests marked `browser`.
pytest_plugins = ["browser"]
