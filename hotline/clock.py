"""The clock: the single scheduler process (Procfile `clock`), never started in web processes.

APScheduler 3 BlockingScheduler with a few interval jobs that sweep the database. Jobs have fixed
ids, coalesce, max_instances=1 and a bounded misfire grace, so a slow or restarted clock neither
piles up runs nor skips work: every job's state lives in database rows, not in the scheduler.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

log = logging.getLogger("hotline.clock")


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


def clock_id() -> str:
    """Identifies this clock process in leases and heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat(app: Flask) -> None:
    """Log that the clock is alive (features may also store it for the console)."""
    log.info("clock heartbeat from %s", clock_id())


def registered_jobs() -> list[ClockJob]:
    """Every feature's periodic jobs (features append to this list in their own module)."""
    jobs = [ClockJob("heartbeat", heartbeat, 30)]
    for module_name, attr in (
        ("hotline.callbacks.jobs", "JOBS"),
        ("hotline.sms.jobs", "JOBS"),
        ("hotline.reports.jobs", "JOBS"),
        ("hotline.cases.jobs", "JOBS"),
    ):
        if not _module_exists(module_name):
            continue
        jobs.extend(getattr(importlib.import_module(module_name), attr, []))
    return jobs


def build_scheduler(app: Flask, *, blocking: bool = True):
    """Create the scheduler with every registered job (not started)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler_cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_cls(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    for job in registered_jobs():

        def run(job: ClockJob = job) -> None:
            with app.app_context():
                try:
                    job.func(app)
                except Exception:  # noqa: BLE001 - one failing run must not stop the clock
                    log.exception("clock job %s failed", job.id)

        scheduler.add_job(run, "interval", seconds=job.seconds, id=job.id, replace_existing=True)
    return scheduler


@click.command("clock")
@with_appcontext
def clock_command() -> None:
    """Run the scheduler process (one per deployment is enough; several are safe)."""
    app = current_app._get_current_object()
    scheduler = build_scheduler(app)
    log.info("clock %s starting with jobs: %s", clock_id(), [j.id for j in scheduler.get_jobs()])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock stopped")
