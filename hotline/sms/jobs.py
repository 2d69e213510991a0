"""Clock job of the SMS feature: send the outbox (the alerts job is hotline.alerts.jobs')."""

from __future__ import annotations

import logging

from flask import Flask

from hotline.db import db
from hotline.schedule import ClockJob, clock_id
from hotline.sms import outbox

log = logging.getLogger(__name__)


def send_outbox(app: Flask) -> None:
    """Send every due text (paced per sender), and note that this clock is alive."""
    session = db.session
    clock = clock_id()
    outbox.record_sweep(session, clock)
    result = outbox.send_due(session, clock=clock)
    if result.handled:
        log.info(
            "outbox: %d sent, %d to retry, %d failed, %d refused",
            len(result.sent),
            len(result.retrying),
            len(result.failed),
            len(result.refused),
        )


JOBS = [
    # Every few seconds: a caller's acknowledgement should arrive within seconds (the service
    # standard asks for an SMS answer within 3 minutes).
    ClockJob("sms_outbox", send_outbox, 5),
]
