"""Clock jobs of the cases feature: follow-up callbacks (回访), closing long-resolved cases,
and the retention sweep (anonymise inactive callers, delete their recordings)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask

from hotline.cases import privacy
from hotline.cases.followups import request_due_follow_ups
from hotline.cases.lifecycle import auto_close_resolved
from hotline.db import db
from hotline.schedule import ClockJob
from hotline.telephony.gateway import get_gateway
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def run_follow_ups(app: Flask) -> None:
    """Create the follow-up callbacks whose day has come."""
    session = db.session_factory()
    try:
        created = request_due_follow_ups(session, utcnow())
        if created:
            log.info("follow-up callbacks created: %s", created)
    finally:
        session.close()


def run_auto_close(app: Flask) -> None:
    """Close cases resolved long ago (they become read-only)."""
    days = int(app.config.get("CASE_AUTO_CLOSE_DAYS", 30))
    session = db.session_factory()
    try:
        closed = auto_close_resolved(session, utcnow(), after=timedelta(days=days))
        session.commit()  # the job is the entry point: one commit per run
        if closed:
            log.info("resolved cases closed: %s", closed)
    finally:
        session.close()


def run_retention(app: Flask) -> None:
    """Anonymise callers inactive for the retention period and delete their recordings."""
    days = int(app.config.get("CALLER_RETENTION_DAYS", privacy.DEFAULT_RETENTION_DAYS))
    session = db.session_factory()
    try:
        now = utcnow()
        anonymised = privacy.anonymise_inactive_callers(session, now, retention_days=days)
        deleted = privacy.delete_recordings(
            session, now, retention_days=days, gateway=get_gateway()
        )
        if anonymised or deleted:
            log.info("retention: %s callers anonymised, %s recordings deleted", anonymised, deleted)
    finally:
        session.close()


JOBS = [
    ClockJob("cases_follow_ups", run_follow_ups, 300),
    ClockJob("cases_auto_close", run_auto_close, 3600),
    ClockJob("cases_retention", run_retention, 3600),
]
