"""The supervisor's daily summary SMS, at a configured local time per line, exactly once."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.alerts.settings import alert_settings
from hotline.checkins import queries as checkin_queries
from hotline.checkins.queries import CheckinFigures
from hotline.lines.models import Line
from hotline.reports import metrics
from hotline.reports.metrics import DayReport
from hotline.reports.models import DailySummary
from hotline.sms import texts
from hotline.sms.models import SmsPurpose
from hotline.sms.outbox import queue_sms
from hotline.sms.recipients import DAILY_SUMMARY, recipients_for
from hotline.sms.texts import Head
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def summary_time(line: Line) -> time:
    """Local time the line's summary goes out (REPORTS_SUMMARY_AT_BY_LINE[key], else
    REPORTS_SUMMARY_AT)."""
    return alert_settings().summary_time(line.key)


def summary_text(
    session: Session,
    line: Line,
    report: DayReport,
    lang: str,
    at: datetime,
    checkins: CheckinFigures | None = None,
) -> str:
    """The summary in `lang` (zh or en), as sent to supervisors, with the day's check-in
    figures (read here when not handed in)."""
    zh_name, en_name = metrics.line_labels(session, line)
    name = en_name if lang == texts.EN else zh_name
    if checkins is None:
        checkins = checkin_queries.day_figures(session, line, report.local_day, now=at)
    return texts.daily_summary(
        lang, Head(at, line.timezone), report, line_name=name, checkins=checkins
    )


def due_lines(session: Session, now: datetime) -> list[tuple[Line, date]]:
    """Lines whose summary time has passed today (local) and that have no summary for today."""
    due = []
    for line in metrics.active_lines(session):
        local = now.astimezone(ZoneInfo(line.timezone))
        if local.time() < summary_time(line):
            continue
        exists = session.scalar(
            select(DailySummary.id).where(
                DailySummary.line_id == line.id, DailySummary.local_day == local.date()
            )
        )
        if exists is None:
            due.append((line, local.date()))
    return due


def send_summary(
    session: Session, line: Line, day: date, *, now: datetime | None = None
) -> DailySummary | None:
    """Claim (line, day) and queue the summary for every registered supervisor (commits).
    Returns None when another clock already did."""
    now = now or utcnow()
    report = metrics.day_report(session, line, day, now=now)
    checkins = checkin_queries.day_figures(session, line, day, now=now)
    supervisors = recipients_for(session, line.id, DAILY_SUMMARY)
    row = DailySummary(
        line_id=line.id,
        local_day=day,
        metrics={**report.as_dict(), "checkins": checkins.as_dict()},
        recipients=len(supervisors),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    for supervisor in supervisors:
        lang = texts.staff_language(supervisor.console_language)
        queue_sms(
            session,
            to=supervisor.phone_number,
            body=summary_text(session, line, report, lang, now, checkins),
            purpose=SmsPurpose.SUPERVISOR_SUMMARY,
            line_id=line.id,
            operator_id=supervisor.id,
            kind="daily_summary",
            language=lang,
        )
    try:
        # The (line, day) row is a claim (the exception to "the job commits once"): another
        # clock's insert fails on the unique key, so each summary goes out once.
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    log.info(
        "daily summary of %s for %s queued for %d supervisor(s)", line.key, day, len(supervisors)
    )
    return row


def run_daily_summaries(session: Session, *, now: datetime | None = None) -> list[DailySummary]:
    """Send every summary that is due (the clock's job)."""
    now = now or utcnow()
    sent = []
    for line, day in due_lines(session, now):
        row = send_summary(session, line, day, now=now)
        if row is not None:
            sent.append(row)
    return sent
