"""Exactly once: concurrent dispatchers on PostgreSQL, a dispatcher killed with SIGKILL after
claiming, and the ringing cap under concurrency."""

from __future__ import annotations

import os
import select as select_module
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.callbacks.models import (
    CallbackAttempt,
    CallbackReason,
    CallbackRequest,
    CallbackStatus,
)
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Operator, Presence
from hotline.timeutil import utcnow

from .conftest import WORKDAY_10AM, create_requests, dispatch, number

HANG = Path(__file__).with_name("claim_then_hang.py")


def _add_due_callbacks(app, count: int) -> None:
    """`count` due callbacks, written in one go (each a different caller)."""
    now = utcnow()
    with app.app_context():
        line_id = db.session.scalar(select(Line.id))
        db.session.add_all(
            CallbackRequest(
                line_id=line_id,
                phone_number=number(i),
                reason=CallbackReason.ABANDONED,
                status=CallbackStatus.PENDING,
                original_arrival_at=now - timedelta(seconds=count - i),
                due_at=now - timedelta(minutes=1),
                max_attempts=3,
            )
            for i in range(count)
        )
        db.session.commit()


def _run_concurrently(app, dispatchers: int, **settings) -> list[int]:
    """Start `dispatchers` threads together, each running until it finds nothing to claim."""
    barrier = threading.Barrier(dispatchers)
    placed = [0] * dispatchers
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            while True:
                report = dispatch(app, owner=f"dispatcher-{i}", **settings)
                placed[i] += len(report.placed)
                assert report.errors == 0
                if not report.claimed:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(dispatchers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return placed


@pytest.mark.postgres
def test_four_dispatchers_place_each_of_1000_due_callbacks_exactly_once(
    pg_app, clock, fake_calls, http_client
):
    _add_due_callbacks(pg_app, 1000)
    placed = _run_concurrently(pg_app, 4, batch_size=25)
    creates = create_requests(http_client)
    assert len(creates) == 1000 == sum(placed)
    per_number = Counter(r.data["To"][0] for r in creates)
    assert len(per_number) == 1000 and set(per_number.values()) == {1}
    with pg_app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(CallbackAttempt)) == 1000
        rows = session.scalars(select(CallbackRequest)).all()
        assert {(r.status, r.attempts) for r in rows} == {(CallbackStatus.DIALING, 1)}
        recorded = {r.attempt_call_sid for r in rows}
    assert recorded == set(fake_calls.sids())
    assert sum(1 for n in placed if n) >= 2, f"the dispatchers really ran side by side: {placed}"


@pytest.mark.postgres
def test_concurrent_dispatchers_never_ring_more_than_operators_plus_margin(
    pg_app, clock, fake_calls, http_client
):
    _add_due_callbacks(pg_app, 40)
    with pg_app.app_context():
        for i in range(3):
            db.session.add(Operator(username=f"op{i}", presence=Presence.AVAILABLE))
        db.session.add(Operator(username="away", presence=Presence.AWAY))
        db.session.commit()
    _run_concurrently(pg_app, 4, batch_size=10, ringing_margin=1)
    assert len(create_requests(http_client)) == 4


def _database_url(app) -> str:
    return app.config["DATABASE_URL"]


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_dispatcher_killed_after_claiming_is_replaced_exactly_once_after_its_lease(
    engine, request, clock, fake_calls, http_client
):
    app = request.getfixturevalue("pg_app" if engine == "postgres" else "app")
    _add_due_callbacks(app, 5)
    lease_seconds = 30
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [
            sys.executable,
            str(HANG),
            _database_url(app),
            WORKDAY_10AM.isoformat(),
            str(lease_seconds),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ready, _, _ = select_module.select([process.stdout], [], [], 60)
        assert ready, "the doomed dispatcher never claimed"
        line = process.stdout.readline()
        assert line.startswith("CLAIMED "), line + process.stderr.read()
        claimed = [int(part) for part in line.split()[1:]]
        assert len(claimed) == 5
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    with app.app_context():
        rows = db.session.scalars(select(CallbackRequest)).all()
        assert {(r.status, r.leased_by, r.attempt_call_sid) for r in rows} == {
            (CallbackStatus.DIALING, "doomed", None)
        }
    assert create_requests(http_client) == [], "the killed dispatcher placed nothing"
    # While its lease lasts, nobody else touches them.
    clock.shift(timedelta(seconds=lease_seconds - 1))
    assert dispatch(app, owner="survivor").claimed == []
    # After it expires, another dispatcher takes over and places each call once.
    clock.shift(timedelta(seconds=2))
    report = dispatch(app, owner="survivor")
    assert len(report.placed) == 5 and all(c.is_takeover for c in report.claimed)
    assert dispatch(app, owner="another").claimed == []
    creates = create_requests(http_client)
    assert sorted(r.data["To"][0] for r in creates) == sorted(number(i) for i in range(5))
    with app.app_context():
        attempts = db.session.scalars(select(CallbackAttempt)).all()
        assert {(a.number, a.claims, a.claimed_by) for a in attempts} == {(1, 2, "survivor")}
        assert {r.attempts for r in db.session.scalars(select(CallbackRequest)).all()} == {1}
