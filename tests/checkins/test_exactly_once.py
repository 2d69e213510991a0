"""Exactly once: four clocks open the day's check-ins and four dispatchers place them at the
same moment on PostgreSQL; each elder gets one episode, one callback request and one call."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from hotline.callbacks.models import CallbackAttempt, CallbackRequest
from hotline.checkins.jobs import open_due_checkins, run_checkin_cascade
from hotline.checkins.models import CheckinEpisode, EpisodeStatus
from hotline.db import db
from tests.callbacks.conftest import create_requests, dispatch, pg_app  # noqa: F401 (fixture)

from .conftest import enrol_elder

ELDERS = 40


def _together(count: int, work) -> None:
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures


@pytest.mark.postgres
def test_four_clocks_open_each_check_in_once_and_four_dispatchers_call_once(
    pg_app,  # noqa: F811
    clock,
    fake_calls,
    http_client,
):
    for i in range(ELDERS):
        enrol_elder(
            pg_app,
            phone=f"+86131{i:08d}",
            name=f"长者{i}",
            volunteer_phone=f"+86138{i:08d}",
        )

    def open_and_sweep(_i: int) -> None:
        with pg_app.app_context():
            open_due_checkins(pg_app)
            run_checkin_cascade(pg_app)

    _together(4, open_and_sweep)
    with pg_app.app_context():
        session = db.session
        episodes = session.scalars(select(CheckinEpisode)).all()
        assert len(episodes) == ELDERS
        assert {e.status for e in episodes} == {EpisodeStatus.CALLING}
        assert {e.attempts for e in episodes} == {1}
        assert session.scalar(select(func.count()).select_from(CallbackRequest)) == ELDERS
        assert len({e.callback_id for e in episodes}) == ELDERS

    placed = [0] * 4

    def place(i: int) -> None:
        while True:
            report = dispatch(pg_app, owner=f"clock-{i}", batch_size=5)
            placed[i] += len(report.placed)
            assert report.errors == 0
            if not report.claimed:
                return

    _together(4, place)
    creates = create_requests(http_client)
    assert len(creates) == ELDERS == sum(placed)
    assert set(Counter(r.data["To"][0] for r in creates).values()) == {1}
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallbackAttempt)) == ELDERS
