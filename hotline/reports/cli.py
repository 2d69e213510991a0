"""`flask --app hotline reports summary [--line KEY] [--lang zh|en]`: print today's summary."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from hotline.db import db

reports_cli = AppGroup("reports", help="Line reports and the daily summary.")


@reports_cli.command("summary")
@click.option("--line", "line_key", default=None, help="Line key (default: every active line).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
def summary_command(line_key: str | None, lang: str) -> None:
    """Print today's summary text as it would be sent now (sends nothing)."""
    from hotline.reports import metrics
    from hotline.reports.summary import summary_text
    from hotline.sms.segments import segment_info
    from hotline.timeutil import utcnow

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
