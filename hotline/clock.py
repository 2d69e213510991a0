"""The clock: the single scheduler process (Procfile `clock`), never started in web processes.

APScheduler 3 BlockingScheduler with a few interval jobs that sweep the database. Jobs have fixed
ids, coalesce, max_instances=1 and a bounded misfire grace, so a slow or restarted clock neither
piles up runs nor skips work: every job's state lives in database rows, not in the scheduler
(no job store: a restarted clock starts from the rows, and nothing is remembered in memory that
the rows do not also say).

Running two clocks by mistake is safe: the callback dispatcher claims rows with a lease.
The clock writes a heartbeat row every 30 s; the console shows "clock last seen" from it.
The heartbeat rows, `ClockJob` and `clock_id` live in the kernel (`hotline.schedule`) so that
features never import this wiring module. Every job is an entry point: it commits its own work.
"""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from hotline.alerts.jobs import JOBS as ALERT_JOBS
from hotline.callbacks.jobs import JOBS as CALLBACK_JOBS
from hotline.calls.jobs import JOBS as CALL_JOBS
from hotline.cases.jobs import JOBS as CASE_JOBS
from hotline.checkins.jobs import JOBS as CHECKIN_JOBS
from hotline.db import db
from hotline.schedule import HEARTBEAT_SECONDS, ClockJob, clock_id, record_heartbeat
from hotline.sms.jobs import JOBS as SMS_JOBS
from hotline.timeutil import utcnow

log = logging.getLogger("hotline.clock")

#: A run that could not start on time may still start this late (a busy or paused clock);
#: later than that it is skipped, and the next run sweeps the same rows anyway.
MISFIRE_GRACE_SECONDS = 60


def heartbeat(app: Flask) -> None:
    """The heartbeat job: store and log that this clock is alive."""
    started = app.extensions.get("hotline.clock_started_at")
    job_ids = [job.id for job in registered_jobs()]
    record_heartbeat(db.session, clock=clock_id(), job_ids=job_ids, started_at=started)
    db.session.commit()  # a clock job is an entry point: it commits its own work, once
    log.debug("clock heartbeat from %s", clock_id())  # every minute: not for the INFO log


def registered_jobs() -> list[ClockJob]:
    """Every periodic job, listed explicitly: a new feature's jobs are added here."""
    jobs = [
        ClockJob("heartbeat", heartbeat, HEARTBEAT_SECONDS),
        *CALLBACK_JOBS,
        *CALL_JOBS,
        *CASE_JOBS,
        *SMS_JOBS,
        *ALERT_JOBS,
        *CHECKIN_JOBS,
    ]
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
