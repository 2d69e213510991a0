"""Clock jobs of the alerts feature: keep the supervisor alerts up to date, and the daily
summary SMS. (Job ids unchanged from when they lived in the sms and reports features.)"""

from __future__ import annotations

from flask import Flask

from hotline.alerts.summary import run_daily_summaries
from hotline.alerts.supervisor import run_alerts
from hotline.db import db
from hotline.schedule import ClockJob


def update_alerts(app: Flask) -> None:
    """Raise and recover supervisor alerts."""
    run_alerts(db.session)


def send_daily_summaries(app: Flask) -> None:
    """Queue each line's summary once its local time has come (once per line and day)."""
    run_daily_summaries(db.session)


JOBS = [
    ClockJob("sms_alerts", update_alerts, 30),
    ClockJob("daily_summary", send_daily_summaries, 60),
]
