"""Clock job of the calls feature: forget stored webhooks once nobody needs them.

A WebhookEvent exists so that Twilio's retry of a request (seconds to minutes later) gets the
same answer and changes nothing twice, and so that a fresh incident can be looked into. It holds
the request's parameters (numbers, what was said, texts) and our TwiML (greetings by name), so
it is kept only WEBHOOK_EVENT_RETENTION_DAYS; what audits need for longer is on the calls,
texts and cases themselves.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask

from hotline.calls.service import delete_webhook_events_before
from hotline.db import db
from hotline.schedule import ClockJob
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_WEBHOOK_EVENT_RETENTION_DAYS = 30


def webhook_event_retention_days(app: Flask) -> int:
    """The configured retention, at least one day (Twilio retries within minutes: a shorter
    setting would let a late retry act twice, so it is not a way to turn idempotency off)."""
    days = app.config.get("WEBHOOK_EVENT_RETENTION_DAYS")
    return max(1, int(days if days is not None else DEFAULT_WEBHOOK_EVENT_RETENTION_DAYS))


def prune_webhook_events(app: Flask) -> None:
    """Delete stored webhooks older than the retention (the job commits)."""
    session = db.session
    cutoff = utcnow() - timedelta(days=webhook_event_retention_days(app))
    deleted = delete_webhook_events_before(session, cutoff)
    session.commit()
    if deleted:
        log.info("webhook events older than %s deleted: %s", cutoff.date(), deleted)


JOBS = [
    ClockJob("calls_webhook_events_prune", prune_webhook_events, 3600),
]
