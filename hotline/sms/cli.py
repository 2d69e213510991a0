"""`flask --app hotline sms send|opt-outs` (`sms check-clock` is hotline.alerts.cli's)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hotline.db import db
from hotline.phone import mask
from hotline.schedule import clock_id
from hotline.sms.models import SmsOptOut
from hotline.sms.outbox import send_due

sms_cli = AppGroup("sms", help="Text messages: outbox, alerts, opt-outs.")


@sms_cli.command("send")
def send_command() -> None:
    """Send the due texts now (what the clock does every few seconds)."""
    result = send_due(db.session, clock=f"cli:{clock_id()}")
    click.echo(
        json.dumps(
            {
                "sent": len(result.sent),
                "retrying": len(result.retrying),
                "failed": len(result.failed),
                "refused": len(result.refused),
            }
        )
    )


@sms_cli.command("opt-outs")
def opt_outs_command() -> None:
    """List the numbers that opted out (masked)."""
    for row in db.session.scalars(select(SmsOptOut).where(SmsOptOut.is_opted_out)):
        click.echo(
            f"{mask(row.phone_number)}\t{row.source.value}\t{row.trigger}\t{row.changed_at:%Y-%m-%d %H:%M}"
        )
