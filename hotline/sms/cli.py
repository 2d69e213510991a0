"""`flask --app hotline sms send|check-clock|opt-outs`."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hotline.db import db

sms_cli = AppGroup("sms", help="Text messages: outbox, alerts, opt-outs.")


@sms_cli.command("send")
def send_command() -> None:
    """Send the due texts now (what the clock does every few seconds)."""
    from hotline.schedule import clock_id
    from hotline.sms.outbox import send_due

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


@sms_cli.command("check-clock")
def check_clock_command() -> None:
    """Raise (and send at once) the "clock silent" alert if the clock has stopped; for cron.

    Exits 1 while the clock is silent, so a monitor can also act on the exit code.
    """
    from hotline.schedule import clock_id
    from hotline.sms.alerts import check_clock
    from hotline.sms.models import SupervisorAlert

    changes = check_clock(db.session, clock=f"cli:{clock_id()}")
    silent = db.session.scalar(
        select(SupervisorAlert.id).where(
            SupervisorAlert.key == "clock_silent", SupervisorAlert.is_active
        )
    )
    click.echo(
        json.dumps(
            {
                "clock_silent": silent is not None,
                "raised": changes.raised,
                "recovered": changes.recovered,
            }
        )
    )
    if silent is not None:
        raise SystemExit(1)


@sms_cli.command("opt-outs")
def opt_outs_command() -> None:
    """List the numbers that opted out (masked)."""
    from hotline.phone import mask
    from hotline.sms.models import SmsOptOut

    for row in db.session.scalars(select(SmsOptOut).where(SmsOptOut.is_opted_out)):
        click.echo(
            f"{mask(row.phone_number)}\t{row.source.value}\t{row.trigger}\t{row.changed_at:%Y-%m-%d %H:%M}"
        )
