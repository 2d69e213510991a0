"""The clock process: fixed job ids, coalesce, one instance, a bounded misfire grace, a heartbeat
in the database, never started by the web app, and a restart that loses nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline import clock as clock_module
from hotline import schedule
from hotline.callbacks.models import CallbackAttempt, CallbackRequest, CallbackStatus
from hotline.db import db

from .conftest import create_requests, dispatch, number


def test_jobs_have_fixed_ids_coalesce_one_instance_and_a_misfire_grace(app):
    scheduler = clock_module.build_scheduler(app, blocking=False)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"heartbeat", "callbacks.dispatch", "callbacks.reconcile"} <= set(jobs)
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time >= 60
    assert jobs["callbacks.dispatch"].trigger.interval == timedelta(seconds=5)
    # A restarted clock registers the very same ids (no duplicates pile up).
    again = clock_module.build_scheduler(app, blocking=False)
    assert sorted(j.id for j in again.get_jobs()) == sorted(jobs)


def test_the_clock_command_uses_a_blocking_scheduler(app):
    from apscheduler.schedulers.blocking import BlockingScheduler

    assert isinstance(clock_module.build_scheduler(app), BlockingScheduler)
    assert "clock" in app.cli.commands


def test_the_web_app_starts_no_scheduler():
    from hotline import create_app

    before = {t.name for t in threading.enumerate()}
    application = create_app(
        {"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "x", "HOTLINE_DEV_MODE": True}
    )
    started = {t.name for t in threading.enumerate()} - before
    with application.app_context():
        db.engine.dispose()
    assert not [name for name in started if "APScheduler" in name or "scheduler" in name.lower()]


def test_heartbeat_is_stored_for_the_console(app, clock):
    scheduler = clock_module.build_scheduler(app, blocking=False)
    scheduler.get_job("heartbeat").func(*scheduler.get_job("heartbeat").args)
    with app.app_context():
        beat = schedule.last_heartbeat(db.session)
        assert beat.clock_id == schedule.clock_id()
        assert "callbacks.dispatch" in beat.job_ids
        assert not schedule.is_stale(beat)
        first_seen = beat.last_seen_at
    clock.shift(timedelta(seconds=30))
    scheduler.get_job("heartbeat").func(*scheduler.get_job("heartbeat").args)
    with app.app_context():
        beat = schedule.last_heartbeat(db.session)
        assert beat.last_seen_at - first_seen == timedelta(seconds=30)
    clock.shift(timedelta(minutes=5))
    with app.app_context():
        assert schedule.is_stale(schedule.last_heartbeat(db.session))


def test_a_failing_job_is_logged_and_does_not_stop_the_clock(app, caplog):
    def broken(_app):
        raise RuntimeError("boom")

    clock_module.run_job(app, schedule.ClockJob("broken", broken, 5))
    assert "clock job broken failed" in caplog.text


def test_a_clock_restart_loses_nothing(app, clock, make_callback, fake_calls, http_client):
    """Clock A claims three callbacks and stops dead; the restarted clock B places the two it
    never touched at once and the three others once A's lease has run out: five calls."""
    for i in range(5):
        make_callback(phone_number=number(i))

    class Stopped(Exception):
        pass

    def stop(_claims):
        raise Stopped

    with pytest.raises(Stopped):
        dispatch(app, owner="clock-a", batch_size=3, after_claim=stop, lease_seconds=120)
    # The restarted clock runs its real dispatch job.
    scheduler = clock_module.build_scheduler(app, blocking=False)
    job = scheduler.get_job("callbacks.dispatch")
    job.func(*job.args)
    assert len(create_requests(http_client)) == 2
    clock.shift(timedelta(seconds=121))
    job.func(*job.args)
    job.func(*job.args)
    creates = create_requests(http_client)
    assert sorted(r.data["To"][0] for r in creates) == sorted(number(i) for i in range(5))
    with app.app_context():
        rows = db.session.scalars(select(CallbackRequest)).all()
        assert {(r.status, r.attempts) for r in rows} == {(CallbackStatus.DIALING, 1)}
        assert len(db.session.scalars(select(CallbackAttempt)).all()) == 5


def test_callbacks_due_while_the_clock_was_down_are_all_placed_when_it_returns(
    app, clock, make_callback, fake_calls, http_client
):
    for i in range(4):
        make_callback(phone_number=number(i))
    clock.shift(timedelta(hours=1))  # the clock was down for an hour
    scheduler = clock_module.build_scheduler(app, blocking=False)
    job = scheduler.get_job("callbacks.dispatch")
    job.func(*job.args)
    assert len(create_requests(http_client)) == 4


def test_every_features_jobs_module_is_picked_up():
    import importlib
    from pathlib import Path

    import hotline

    expected = set()
    for path in Path(hotline.__file__).parent.glob("*/jobs.py"):
        module = importlib.import_module(f"hotline.{path.parent.name}.jobs")
        expected |= {job.id for job in getattr(module, "JOBS", [])}
    assert expected <= {job.id for job in clock_module.registered_jobs()}
