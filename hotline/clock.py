"""The clock: the single scheduler process (Procfile `clock`), never started in web processes.

APScheduler 3 BlockingScheduler with a few interval jobs that sweep the database. Jobs have fixed
ids, coalesce, max_instances=1 and a bounded misfire grace, so a slow or restarted clock neither
piles up runs nor skips work: every job's state lives in database rows, not in the scheduler
(no job store: a restarted clock starts from the rows, and nothing is remembered in memory that
the rows do not also say).

Running two clocks by mistake is safe: the callback dispatcher claims rows with a lease.
The clock writes a heartbeat row every 30 s; the console shows "clock last seen" from it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pkgutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.db import Base, db
from hotline.timeutil import utcnow

log = logging.getLogger("hotline.clock")

#: Seconds between heartbeats; the console calls the clock stale after a few missed ones.
HEARTBEAT_SECONDS = 30
#: A clock not seen for this long is shown as stopped.
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)
#: Heartbeat rows of clocks gone for this long are removed.
FORGET_AFTER = timedelta(days=7)
#: A run that could not start on time may still start this late (a busy or paused clock);
#: later than that it is skipped, and the next run sweeps the same rows anyway.
MISFIRE_GRACE_SECONDS = 60


class ClockHeartbeat(Base):
    """One row per clock process: when it started and when it was last alive."""

    __tablename__ = "clock_heartbeats"

    #: "hostname:pid" of the clock process.
    clock_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    #: The ids of the jobs this clock runs.
    job_ids: Mapped[list[Any]] = mapped_column(default=list)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@dataclass(frozen=True)
class ClockJob:
    """One periodic job: `func(app)` runs every `seconds` inside an app context."""

    id: str
    func: Callable[[Flask], None]
    seconds: int


_CLOCK_ID: dict[int, str] = {}


def clock_id() -> str:
    """Identifies this clock process in leases and heartbeats ("hostname:pid")."""
    pid = os.getpid()
    if pid not in _CLOCK_ID:
        _CLOCK_ID[pid] = f"{socket.gethostname()}:{pid}"[:80]
    return _CLOCK_ID[pid]


def record_heartbeat(
    session: Session, *, clock: str, job_ids: list[str], started_at: datetime | None = None
) -> ClockHeartbeat:
    """Store that `clock` is alive now (commits); forgets clocks gone for a week."""
    now = utcnow()
    row = session.get(ClockHeartbeat, clock)
    if row is None:
        row = ClockHeartbeat(
            clock_id=clock, started_at=started_at or now, last_seen_at=now, job_ids=job_ids
        )
        session.add(row)
    else:
        row.last_seen_at = now
        row.job_ids = job_ids
    session.execute(delete(ClockHeartbeat).where(ClockHeartbeat.last_seen_at < now - FORGET_AFTER))
    try:
        session.commit()
    except IntegrityError:  # the same clock id raced in twice (a restart with a reused pid)
        session.rollback()
    return row


def last_heartbeat(session: Session) -> ClockHeartbeat | None:
    """The most recently seen clock, for the console's "clock last seen"."""
    return session.scalars(
        select(ClockHeartbeat).order_by(ClockHeartbeat.last_seen_at.desc()).limit(1)
    ).first()


def is_stale(heartbeat: ClockHeartbeat | None, now: datetime | None = None) -> bool:
    """True when no clock has been seen recently (nothing is being dispatched)."""
    if heartbeat is None:
        return True
    return (now or utcnow()) - heartbeat.last_seen_at > STALE_AFTER


def heartbeat(app: Flask) -> None:
    """The heartbeat job: store and log that this clock is alive."""
    started = app.extensions.get("hotline.clock_started_at")
    job_ids = [job.id for job in registered_jobs()]
    record_heartbeat(db.session, clock=clock_id(), job_ids=job_ids, started_at=started)
    log.info("clock heartbeat from %s", clock_id())


def registered_jobs() -> list[ClockJob]:
    """Every feature's periodic jobs: `JOBS` of each `hotline/<feature>/jobs.py`, found by name,
    so a new feature's jobs need no change here."""
    import hotline

    jobs = [ClockJob("heartbeat", heartbeat, HEARTBEAT_SECONDS)]
    for module in sorted(pkgutil.iter_modules(hotline.__path__), key=lambda m: m.name):
        module_name = f"hotline.{module.name}.jobs"
        if not module.ispkg or not _module_exists(module_name):
            continue
        jobs.extend(getattr(importlib.import_module(module_name), "JOBS", []))
    ids = [job.id for job in jobs]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RuntimeError(f"clock job ids must be unique; repeated: {sorted(duplicates)}")
    return jobs


def run_job(app: Flask, job: ClockJob) -> None:
    """Run one job inside a fresh app context; a failing run is logged and never stops the clock."""
    with app.app_context():
        try:
            job.func(app)
        except Exception:  # noqa: BLE001 - one failing run must not stop the clock
            log.exception("clock job %s failed", job.id)


def build_scheduler(app: Flask, *, blocking: bool = True):
    """Create the scheduler with every registered job (not started).

    Only the `clock` command calls this: the web processes never build or start a scheduler.
    """
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler_cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_cls(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for job in registered_jobs():
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, job),
            seconds=job.seconds,
            id=job.id,
            name=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            # First run at once: a restarted clock sweeps what piled up while it was away.
            next_run_time=utcnow(),
        )
    return scheduler


@click.command("clock")
@with_appcontext
def clock_command() -> None:
    """Run the scheduler process (one per deployment is enough; several are safe)."""
    app = current_app._get_current_object()
    app.extensions["hotline.clock_started_at"] = utcnow()
    scheduler = build_scheduler(app)
    log.info("clock %s starting with jobs: %s", clock_id(), [j.id for j in scheduler.get_jobs()])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock stopped")
