"""The check-ins' clock jobs (picked up by hotline.clock): open the day's check-ins when their
windows open, and run the retries and the cascade. Each run is an entry point: it commits once.
"""

from __future__ import annotations

from flask import Flask

from hotline.checkins import cascade
from hotline.db import db
from hotline.schedule import ClockJob

#: Seconds between looks for enrolments whose window has opened (a check-in starts within this).
DUE_SECONDS = 60
#: Seconds between runs of the retries and the cascade.
CASCADE_SECONDS = 30


def open_due_checkins(app: Flask) -> None:
    """Create today's episodes (and their first calls) for the windows open now."""
    session = db.session_factory()
    try:
        cascade.open_due_episodes(session)
        session.commit()
    finally:
        session.close()


def run_checkin_cascade(app: Flask) -> None:
    """Retry missed check-ins, start cascades, alert supervisors when nobody replied."""
    session = db.session_factory()
    try:
        cascade.run_due_steps(session)
        session.commit()
    finally:
        session.close()


JOBS = [
    ClockJob("checkins.open_due", open_due_checkins, DUE_SECONDS),
    ClockJob("checkins.cascade", run_checkin_cascade, CASCADE_SECONDS),
]
