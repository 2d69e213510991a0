"""Fixtures shared by the SMS, reports and alerts tests (imported by their conftest modules).

- the app with PUBLIC_BASE_URL set (status callbacks must carry a real public URL), and a
  `twilio` poster that signs against it;
- `make_supervisor` / `make_operator`, `line_id`;
- `clock`: runs the real clock jobs (outbox, alerts, daily summary) in an app context;
- `texts_sent`: the Messages.create requests the real twilio SDK made, as dicts of fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from hotline.db import db
from hotline.operators.models import Role
from tests import factories

# Not imported from tests/conftest.py: another folder's conftest module may hold that name.
TEST_ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_URL = "https://hotline.example.org"
LINE_NUMBER = "+861012345678"
SUPERVISOR_PHONE = "+8613800000001"
CALLER_PHONE = "+8613123456701"
STRANGER_PHONE = "+8613999999999"
#: 14:05 in Shanghai on a Sunday.
NOON_UTC = datetime(2026, 11, 29, 6, 5, tzinfo=UTC)


@pytest.fixture
def app_config(app_config):
    """PUBLIC_BASE_URL set: texts sent by the clock carry it in their StatusCallback."""
    app_config["PUBLIC_BASE_URL"] = PUBLIC_URL
    # Pacing is tested on its own; other tests send without waiting.
    app_config["SMS_SEGMENTS_PER_SECOND"] = 100
    return app_config


@pytest.fixture
def twilio(twilio):
    """Signed webhooks as Twilio sends them to PUBLIC_BASE_URL."""
    twilio.base_url = PUBLIC_URL
    return twilio


@pytest.fixture
def now(time_machine) -> datetime:
    """Time frozen at 14:05 Shanghai time (tests move it with time_machine.move_to)."""
    time_machine.move_to(NOON_UTC, tick=False)
    return NOON_UTC


@pytest.fixture
def line_id(app) -> int:
    with app.app_context():
        return factories.main_line(db.session).id


@pytest.fixture
def make_operator(app):
    """make_operator(username, role=..., phone_number=..., console_language=...) -> id."""

    def _make(username: str, *, role: Role = Role.OPERATOR, **fields: Any) -> int:
        with app.app_context():
            operator = factories.make_operator(
                db.session,
                username,
                role=role,
                password=fields.pop("password", "a long password"),
                **fields,
            )
            db.session.commit()
            return operator.id

    return _make


@pytest.fixture
def make_supervisor(make_operator):
    def _make(username: str = "zhang", phone: str = SUPERVISOR_PHONE, lang: str = "zh", **kw):
        return make_operator(
            username,
            role=kw.pop("role", Role.SUPERVISOR),
            phone_number=phone,
            console_language=lang,
            **kw,
        )

    return _make


@dataclass
class Clock:
    """Runs the real clock jobs, each in a fresh app context as the scheduler does."""

    app: Any

    def send(self) -> None:
        from hotline.sms.jobs import send_outbox

        with self.app.app_context():
            send_outbox(self.app)

    def alerts(self) -> None:
        from hotline.alerts.jobs import update_alerts

        with self.app.app_context():
            update_alerts(self.app)

    def summaries(self) -> None:
        from hotline.alerts.jobs import send_daily_summaries

        with self.app.app_context():
            send_daily_summaries(self.app)

    def tick(self) -> None:
        """One round of every SMS-related job."""
        self.summaries()
        self.alerts()
        self.send()


@pytest.fixture
def clock(app) -> Clock:
    return Clock(app)


def sent_texts(http_client) -> list[dict[str, str]]:
    """Every Messages.create the SDK made, as {field: value} (single values)."""
    out = []
    for req in http_client.find("POST", "/Messages.json"):
        assert req.url == (
            f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
        ), req.url
        out.append({k: v[0] if len(v) == 1 else v for k, v in req.data.items()})
    return out


@pytest.fixture
def texts_sent(http_client):
    return lambda: sent_texts(http_client)


def sms_params(
    body: str, *, from_: str = CALLER_PHONE, to: str = LINE_NUMBER, sid: str | None = None
) -> dict[str, str]:
    """The parameters of Twilio's incoming-message webhook."""
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": TEST_ACCOUNT_SID,
        "MessagingServiceSid": "",
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }


def status_params(sid: str, status: str, error_code: str | None = None) -> dict[str, str]:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": TEST_ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": LINE_NUMBER,
        "To": CALLER_PHONE,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params
