"""`flask --app hotline reports summary [--line KEY] [--lang zh|en]`: print today's summary;
`flask --app hotline sms check-clock`: the clock-silent alert from cron (added to the sms group,
whose other commands are hotline.sms.cli's)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hotline.alerts.summary import summary_text
from hotline.alerts.supervisor import check_clock
from hotline.db import db
from hotline.reports import metrics
from hotline.schedule import clock_id
from hotline.segments import segment_info
from hotline.sms.cli import sms_cli
from hotline.sms.models import SupervisorAlert
from hotline.timeutil import utcnow

reports_cli = AppGroup("reports", help="Line reports and the daily summary.")


@reports_cli.command("summary")
@click.option("--line", "line_key", default=None, help="Line key (default: every active line).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
def summary_command(line_key: str | None, lang: str) -> None:
    """Print today's summary text as it would be sent now (sends nothing)."""
    now = utcnow()
    for line in metrics.active_lines(db.session):
        if line_key and line.key != line_key:
            continue
        report = metrics.today_report(db.session, line, now=now)
        text = summary_text(db.session, line, report, lang, now)
        info = segment_info(text)
        click.echo(
            f"[{line.key}] {text}\n  ({info.encoding}, {info.units} units, {info.segments} segment(s))"
        )


@sms_cli.command("check-clock")
def check_clock_command() -> None:
    """Raise (and send at once) the "clock silent" alert if the clock has stopped; for cron.

    Exits 1 while the clock is silent, so a monitor can also act on the exit code.
    """
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
