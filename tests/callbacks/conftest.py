"""Fixtures for the callback tests: a controllable clock, a stateful fake of Twilio's Calls
resource behind the recording http_client, factories, signed callback webhooks, and an app on
a fresh PostgreSQL database for the concurrency tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from hotline import create_app
from hotline.callbacks.dispatcher import Dispatcher, DispatchReport
from hotline.callbacks.models import CallbackAttempt, CallbackReason, CallbackRequest
from hotline.callbacks.service import request_callback
from hotline.callbacks.settings import CallbackSettings
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Presence, Role
from hotline.timeutil import utcnow
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Tuesday 4 March 2025, 10:00 in Shanghai: an ordinary working day inside the calling window.
WORKDAY_10AM = datetime(2025, 3, 4, 10, 0, tzinfo=SHANGHAI)
LINE_NUMBER = "+861012345678"


def local(
    year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in Shanghai (the line's time zone)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def number(i: int) -> str:
    """A distinct example mobile number per i."""
    return f"+86131{i:08d}"


@pytest.fixture
def app_config(app_config):
    """Callbacks reach us at http://localhost (the signed test posts' base URL); no pacing
    or ringing cap unless a test turns them on."""
    app_config.update(
        {
            "PUBLIC_BASE_URL": "http://localhost",
            "CALLBACK_CALLS_PER_SECOND": 0,
            "CALLBACK_RINGING_MARGIN": None,
        }
    )
    return app_config


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """Time frozen at a working-day morning; move it with clock.move_to / clock.shift."""
    with time_machine.travel(WORKDAY_10AM, tick=False) as traveller:
        yield traveller


# --------------------------------------------------------------------------- a fake Twilio


@dataclass
class FakeCalls:
    """Twilio's Calls resource as the SDK sees it: create, list, fetch (thread-safe)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    created_at: list[datetime] = field(default_factory=list)
    create_error: tuple[int, dict[str, Any]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, form: dict[str, list[str]]):
        if self.create_error is not None:
            return self.create_error
        sid = "CA" + uuid.uuid4().hex
        now = utcnow()
        call = {
            "sid": sid,
            "to": form["To"][0],
            "from": form["From"][0],
            "status": "queued",
            "date_created": format_datetime(now.astimezone(UTC)),
            "duration": None,
            "answered_by": None,
        }
        with self.lock:
            self.calls.append(call)
            self.created_at.append(now)
        return 201, call

    def listing(self, _form):
        with self.lock:
            records = list(reversed(self.calls))
        return 200, {"calls": records, "next_page_uri": None, "page": 0, "page_size": 50}

    def sids(self) -> list[str]:
        return [c["sid"] for c in self.calls]

    def set_status(
        self, http_client, sid: str, status: str, *, duration: int = 0, answered_by=None
    ):
        """Make a later fetch of `sid` report this final status (for the reconcile job)."""
        call = next(c for c in self.calls if c["sid"] == sid)
        call.update(status=status, duration=str(duration), answered_by=answered_by)
        http_client.responses.insert(0, (rf"GET \S+/Calls/{sid}\.json$", (200, dict(call))))


@pytest.fixture
def fake_calls(http_client) -> FakeCalls:
    """Answer the SDK's Calls requests like Twilio, with unique CallSids."""
    fake = FakeCalls()
    http_client.responses.append((r"^POST \S+/Calls\.json$", fake.create))
    http_client.responses.append((r"^GET \S+/Calls\.json$", fake.listing))
    return fake


def create_requests(http_client) -> list:
    """The Calls.create requests the SDK sent."""
    return [r for r in http_client.requests if r.method == "POST" and r.url.endswith("/Calls.json")]


# --------------------------------------------------------------------------- factories


@pytest.fixture
def make_callback(app) -> Callable[..., int]:
    """request_callback() with defaults: make_callback(phone_number=..., reason=...)."""

    def _make(**fields) -> int:
        with app.app_context():
            line = db.session.scalar(select(Line).where(Line.key == "main"))
            fields.setdefault("line_id", line.id)
            fields.setdefault("phone_number", number(1))
            fields.setdefault("reason", CallbackReason.ABANDONED)
            fields.setdefault("original_arrival_at", utcnow() - timedelta(minutes=5))
            row = request_callback(db.session, **fields)
            db.session.commit()  # the test is the entry point: services only flush
            return row.id

    return _make


@pytest.fixture
def make_operator(app) -> Callable[..., int]:
    """An operator row: make_operator(presence=Presence.AVAILABLE, role=Role.SUPERVISOR, ...)."""
    counter = {"n": 0}

    def _make(**fields) -> int:
        counter["n"] += 1
        fields.setdefault("username", f"op{counter['n']}")
        fields.setdefault("display_name", f"坐席{counter['n']}")
        fields.setdefault("role", Role.OPERATOR)
        fields.setdefault("presence", Presence.OFFLINE)
        with app.app_context():
            operator = factories.make_operator(db.session, fields.pop("username"), **fields)
            db.session.commit()
            return operator.id

    return _make


def settings(**overrides) -> CallbackSettings:
    """Dispatcher settings for tests: no pacing, no ringing or daily caps, unless asked."""
    values = {
        "calls_per_second": 0,
        "ringing_margin": None,
        "lease_seconds": 120,
        "batch_size": 50,
        "call_daily_cap_per_number": 10**6,
        "call_daily_cap_per_line": 10**6,
    }
    values.update(overrides)
    return CallbackSettings(**values)


def dispatch(
    app, *, owner: str = "test-dispatcher", sleep=None, after_claim=None, **overrides
) -> DispatchReport:
    """One dispatcher run with test settings."""
    dispatcher = Dispatcher(
        app,
        owner=owner,
        settings=settings(**overrides),
        sleep=sleep or (lambda seconds: pytest.fail(f"unexpected sleep {seconds}")),
    )
    return dispatcher.run_once(after_claim=after_claim)


def get_callback(app, callback_id: int) -> CallbackRequest:
    with app.app_context():
        row = db.session.get(CallbackRequest, callback_id)
        db.session.expunge(row)
        return row


def attempts_of(app, callback_id: int) -> list[CallbackAttempt]:
    with app.app_context():
        rows = db.session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.callback_id == callback_id)
            .order_by(CallbackAttempt.number)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


# --------------------------------------------------------------------------- Twilio's webhooks


@dataclass
class CallbackCall:
    """Posts the signed webhooks Twilio sends for one placed callback call."""

    twilio: Any
    attempt_id: int
    call_sid: str
    to: str
    from_: str = LINE_NUMBER

    def params(self, **extra) -> dict[str, str]:
        params = {
            "CallSid": self.call_sid,
            "AccountSid": "AC" + "1" * 32,
            "From": self.from_,
            "To": self.to,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
        }
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return params

    def answer(self, answered_by: str | None = "human"):
        return self.twilio.post(
            f"/twilio/callbacks/answer?attempt={self.attempt_id}",
            self.params(AnsweredBy=answered_by),
        )

    def status(self, status: str, sequence: int, *, duration: int | None = None, **extra):
        response = self.twilio.post(
            f"/twilio/callbacks/status?attempt={self.attempt_id}",
            self.params(
                CallStatus=status,
                SequenceNumber=sequence,
                CallDuration=duration,
                CallbackSource="call-progress-events",
                Timestamp=f"Tue, 04 Mar 2025 02:00:{sequence:02d} +0000",
                **extra,
            ),
        )
        assert response.status_code == 204, response.get_data(as_text=True)
        return response


def placed_call(app, twilio, callback_id: int) -> CallbackCall:
    """The webhook poster for the current attempt of a callback (after a dispatcher run)."""
    with app.app_context():
        callback = db.session.get(CallbackRequest, callback_id)
        attempt = db.session.scalar(
            select(CallbackAttempt).where(
                CallbackAttempt.callback_id == callback_id,
                CallbackAttempt.number == callback.attempts,
            )
        )
        assert attempt is not None and attempt.call_sid, "no call was placed"
        return CallbackCall(twilio, attempt.id, attempt.call_sid, callback.phone_number)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_app(pg_url, app_config):
    """The hotline app on a fresh PostgreSQL database, with the 'main' line."""
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    config = {**app_config, "DATABASE_URL": url}
    application = create_app(config)
    with application.app_context():
        db.create_all()
        db.session.add(
            Line(
                key="main",
                name="长者服务热线",
                phone_number=LINE_NUMBER,
                is_open_every_day=True,
                opens_at=time(0, 0),
                closes_at=time(0, 0),
            )
        )
        db.session.commit()
    yield application
    with application.app_context():
        db.session.close()
        db.engine.dispose()


def login(client, operator_id: int) -> None:
    """Sign the test client in as this operator (Flask-Login's session keys)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(operator_id)
        session["_fresh"] = True
