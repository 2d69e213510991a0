"""Several clocks at once on PostgreSQL: every text is sent exactly once, every alert and every
daily summary is raised once."""

from __future__ import annotations

import threading
import uuid
from datetime import time

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from hotline import create_app
from hotline.callers.models import Caller
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Operator, Role
from hotline.reports.models import DailySummary
from hotline.seed import DEMO_LINE_NUMBER
from hotline.sms.models import SmsMessage, SmsPurpose, SmsStatus, SupervisorAlert

pytestmark = pytest.mark.postgres

CLOCKS = 4


@pytest.fixture
def pg_app(app_config, pg_url, http_client):
    """The app on its own fresh PostgreSQL database, with a line and two supervisors."""

    def unique_sid(_form):
        return 201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}

    # The recording transport is shared by the clock threads: give every text its own sid.
    http_client.responses.append((r"POST .*/Messages\.json", unique_sid))
    application = create_app({**app_config, "DATABASE_URL": pg_url})
    with application.app_context():
        db.create_all()
        db.session.add(
            Line(
                key="main",
                name="长者服务热线",
                phone_number=DEMO_LINE_NUMBER,
                is_open_every_day=True,
                opens_at=time(0, 0),
                closes_at=time(0, 0),
            )
        )
        for i, lang in enumerate(("zh", "en")):
            db.session.add(
                Operator(
                    username=f"sup{i}",
                    role=Role.SUPERVISOR,
                    phone_number=f"+861380000000{i + 1}",
                    console_language=lang,
                    password_hash=generate_password_hash("x", method="pbkdf2:sha256:1000"),
                )
            )
        db.session.commit()
    yield application
    with application.app_context():
        db.session.close()
        db.engine.dispose()


def _run_clocks(app, work) -> list[BaseException]:
    """Run `work(clock_id)` in CLOCKS threads started at the same moment, each in its own app
    context (its own session and connection), like separate clock processes."""
    barrier = threading.Barrier(CLOCKS)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                work(f"clock-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLOCKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_clocks_send_each_text_exactly_once(pg_app, http_client):
    from hotline.sms.outbox import queue_sms, send_due

    with pg_app.app_context():
        line_id = db.session.scalar(select(Line.id))
        for i in range(60):
            number = f"+8613123{i:06d}"
            db.session.add(Caller(phone_number=number))
            db.session.flush()
            queue_sms(
                db.session, to=number, body=f"第{i}条", purpose=SmsPurpose.REPLY, line_id=line_id
            )
        db.session.commit()

    def sweep_until_empty(clock: str) -> None:
        while send_due(db.session, clock=clock).handled:
            pass

    assert _run_clocks(pg_app, sweep_until_empty) == []
    bodies = [r.data["Body"][0] for r in http_client.find("POST", "/Messages.json")]
    assert sorted(bodies) == sorted(f"第{i}条" for i in range(60)), "each text exactly once"
    with pg_app.app_context():
        rows = db.session.scalars(select(SmsMessage)).all()
        assert {r.status for r in rows} == {SmsStatus.SENT}
        assert {r.attempts for r in rows} == {1}
        assert len({r.message_sid for r in rows}) == 60
        assert len({r.leased_by for r in rows}) > 1, "the work was shared between clocks"


def test_concurrent_clocks_raise_an_alert_once(pg_app):
    from hotline.alerts.supervisor import run_alerts
    from hotline.cases.models import Case

    with pg_app.app_context():
        line_id = db.session.scalar(select(Line.id))
        db.session.add(Case(number="20261129-0001", line_id=line_id, is_urgent=True))
        db.session.commit()

    assert _run_clocks(pg_app, lambda clock: run_alerts(db.session)) == []
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SupervisorAlert)) == 1
        texts = db.session.scalars(
            select(SmsMessage.to_number).where(SmsMessage.purpose == SmsPurpose.SUPERVISOR_ALERT)
        ).all()
        assert sorted(texts) == ["+8613800000001", "+8613800000002"]


def test_concurrent_clocks_send_the_daily_summary_once(pg_app):
    from hotline.alerts.summary import run_daily_summaries

    pg_app.config["REPORTS_SUMMARY_AT"] = "00:00"  # due whenever the test runs
    assert _run_clocks(pg_app, lambda clock: run_daily_summaries(db.session)) == []
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DailySummary)) == 1
        texts = db.session.scalars(
            select(SmsMessage.to_number).where(SmsMessage.purpose == SmsPurpose.SUPERVISOR_SUMMARY)
        ).all()
        assert sorted(texts) == ["+8613800000001", "+8613800000002"]


def test_concurrent_clocks_finish_an_interrupted_text_once(pg_app):
    from datetime import timedelta

    from hotline.callbacks.models import CallbackRequest
    from hotline.sms.jobs import finish_interrupted_inbound
    from hotline.sms.models import SmsDirection
    from hotline.timeutil import utcnow

    with pg_app.app_context():
        line_id = db.session.scalar(select(Line.id))
        for i in range(5):
            # Saved by a webhook whose worker died before the end: the lease ran out.
            db.session.add(
                SmsMessage(
                    direction=SmsDirection.INBOUND,
                    status=SmsStatus.RECEIVED,
                    line_id=line_id,
                    message_sid=f"SMdead{i}",
                    from_number=f"+861391234567{i}",
                    to_number=DEMO_LINE_NUMBER,
                    body="回电",
                    lease_expires_at=utcnow() - timedelta(seconds=1),
                    created_at=utcnow() - timedelta(minutes=2),
                )
            )
        db.session.commit()

    assert _run_clocks(pg_app, lambda clock: finish_interrupted_inbound(pg_app)) == []
    with pg_app.app_context():
        inbound = db.session.scalars(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)
        ).all()
        assert all(row.processed_at is not None for row in inbound)
        assert db.session.scalar(select(func.count()).select_from(CallbackRequest)) == 5
        replies = db.session.scalars(
            select(SmsMessage.to_number).where(SmsMessage.kind == "callback_requested")
        ).all()
        assert sorted(replies) == [f"+861391234567{i}" for i in range(5)], "one reply each"
