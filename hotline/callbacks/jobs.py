"""The callbacks' clock jobs (picked up by hotline.clock): dispatch, and reconcile lost statuses."""

from __future__ import annotations

from flask import Flask

from hotline.callbacks.dispatcher import Dispatcher, reconcile_stale_attempts
from hotline.schedule import ClockJob

#: Seconds between dispatcher runs: "call now" in the console rings within about this long.
DISPATCH_SECONDS = 5
#: Seconds between looks at Twilio for calls whose final status never reached us.
RECONCILE_SECONDS = 300


def dispatch_due_callbacks(app: Flask) -> None:
    """Place every due callback (paced, in the calling window, exactly once)."""
    Dispatcher(app).run_once()


def reconcile_callbacks(app: Flask) -> None:
    """Bring callbacks up to date whose status callbacks were lost."""
    reconcile_stale_attempts(app)


JOBS = [
    ClockJob("callbacks.dispatch", dispatch_due_callbacks, DISPATCH_SECONDS),
    ClockJob("callbacks.reconcile", reconcile_callbacks, RECONCILE_SECONDS),
]
