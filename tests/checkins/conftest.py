"""Fixtures of the check-in tests: a frozen clock on a Saturday morning in Shanghai (outside the
line's callback working days, inside the elder's own window), the fake Twilio Calls resource,
an enrolled elder with a volunteer and a consented family contact, and runners for the clock
jobs and the callback dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackAttempt, CallbackRequest
from hotline.callers.models import ConsentMethod, FamilyContact
from hotline.checkins.jobs import open_due_checkins, run_checkin_cascade
from hotline.checkins.models import CheckinEpisode
from hotline.db import db
from hotline.timeutil import utcnow
from tests import factories
from tests.callbacks.conftest import dispatch, fake_calls  # noqa: F401 (a fixture)

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Saturday 5 December 2026, 09:30 in Shanghai: not a working day, inside 09:00-11:00.
SATURDAY_0930 = datetime(2026, 12, 5, 9, 30, tzinfo=SHANGHAI)
ELDER_PHONE = "+8613100000001"
VOLUNTEER_PHONE = "+8613800000199"
DAUGHTER_PHONE = "+8613800000288"
FOREIGN_SON_PHONE = "+447700900123"
LINE_NUMBER = "+861012345678"


@pytest.fixture
def app_config(app_config):
    app_config.update(
        {
            "PUBLIC_BASE_URL": "http://localhost",
            "CALLBACK_CALLS_PER_SECOND": 0,
            "CALLBACK_RINGING_MARGIN": None,
            "SMS_SEGMENTS_PER_SECOND": 100,
            "CHECKIN_VOLUNTEER_REPLY_MINUTES": 45,
        }
    )
    return app_config


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(SATURDAY_0930, tick=False) as traveller:
        yield traveller


@dataclass
class Elder:
    caller_id: int
    enrolment_id: int
    volunteer_id: int
    line_id: int


def enrol_elder(
    app,
    *,
    phone: str = ELDER_PHONE,
    name: str = "王阿姨",
    volunteer_phone=VOLUNTEER_PHONE,
    **fields,
) -> Elder:
    """An elder enrolled every day 09:00-11:00 with retries 20,60, their volunteer, a consented
    daughter (may receive alerts) and a son abroad (consented, but outside the number policy)."""
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        operator = factories.make_operator(session)
        caller = factories.make_caller(
            session, phone_number=phone, display_name=name, is_older_caller=True
        )
        volunteer = factories.make_volunteer(session, phone_number=volunteer_phone)
        for number, relation in ((DAUGHTER_PHONE, "女儿"), (FOREIGN_SON_PHONE, "儿子")):
            session.add(
                FamilyContact(
                    caller_id=caller.id,
                    name=relation,
                    relation=relation,
                    phone_number=number,
                    may_receive_alerts=True,
                    consented_at=utcnow(),
                    consent_method=ConsentMethod.ELDER_IN_PERSON,
                    consent_recorded_by=operator.id,
                )
            )
        fields.setdefault("retry_minutes", "20,60")
        enrolment = factories.make_enrolment(
            session,
            caller_id=caller.id,
            line_id=line.id,
            volunteer_id=volunteer.id,
            operator_id=operator.id,
            **fields,
        )
        session.commit()
        return Elder(caller.id, enrolment.id, volunteer.id, line.id)


@pytest.fixture
def elder(app, clock) -> Elder:
    return enrol_elder(app)


@dataclass
class Jobs:
    app: Any

    def open_due(self) -> None:
        with self.app.app_context():
            open_due_checkins(self.app)

    def cascade(self) -> None:
        with self.app.app_context():
            run_checkin_cascade(self.app)

    def dispatch(self):
        return dispatch(self.app)

    def alerts(self) -> None:
        from hotline.alerts.jobs import update_alerts

        with self.app.app_context():
            update_alerts(self.app)

    def send_sms(self) -> None:
        from hotline.sms.jobs import send_outbox

        with self.app.app_context():
            send_outbox(self.app)


@pytest.fixture
def jobs(app) -> Jobs:
    return Jobs(app)


def episodes(app) -> list[CheckinEpisode]:
    with app.app_context():
        rows = db.session.scalars(select(CheckinEpisode).order_by(CheckinEpisode.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def current_attempt(app, callback_id: int) -> CallbackAttempt:
    with app.app_context():
        callback = db.session.get(CallbackRequest, callback_id)
        attempt = db.session.scalar(
            select(CallbackAttempt).where(
                CallbackAttempt.callback_id == callback_id,
                CallbackAttempt.number == callback.attempts,
            )
        )
        db.session.expunge(attempt)
        return attempt
