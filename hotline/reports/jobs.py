"""Clock job of the reports feature: the daily summary SMS."""

from __future__ import annotations

from flask import Flask

from hotline.db import db
from hotline.reports.summary import run_daily_summaries
from hotline.schedule import ClockJob


def send_daily_summaries(app: Flask) -> None:
    """Queue each line's summary once its local time has come (once per line and day)."""
    run_daily_summaries(db.session)


JOBS = [ClockJob("daily_summary", send_daily_summaries, 60)]
