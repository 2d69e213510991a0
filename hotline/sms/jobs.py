"""Clock jobs of the SMS feature: send the outbox, finish interrupted inbound texts (the alerts
job is hotline.alerts.jobs')."""

from __future__ import annotations

import logging

from flask import Flask

from hotline.db import db
from hotline.schedule import ClockJob, clock_id
from hotline.sms import inbound, outbox

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


def finish_interrupted_inbound(app: Flask) -> None:
    """Process inbound texts whose worker died mid-way (their lease expired), one transaction
    each, so one text that fails again does not hold back the others."""
    session = db.session
    region = app.config.get("DEFAULT_REGION", "CN")
    for sms_id in inbound.stale_inbound_ids(session):
        try:
            finished = inbound.finish_stale_inbound(session, sms_id, region=region)
            session.commit()
        except Exception:
            session.rollback()
            log.exception("inbound SMS %s could not be finished; tried again later", sms_id)
            continue
        if finished:
            log.info("inbound SMS %s finished by the sweep", sms_id)


JOBS = [
    # Every few seconds: a caller's acknowledgement should arrive within seconds (the service
    # standard asks for an SMS answer within 3 minutes).
    ClockJob("sms_outbox", send_outbox, 5),
    # Every half minute: a text's lease is PROCESSING_LEASE (60 s), so an interrupted text is
    # answered within about a minute and a half of its arrival.
    ClockJob("sms_inbound_sweep", finish_interrupted_inbound, 30),
]
