"""The supervisor page (值班概况): today's numbers, per scenario, a 7-day trend, alerts.

It combines the reports' figures with the alerts and the summary SMS, so it lives in the alerts
feature; the blueprint keeps its name `reports` so the URL (/console/reports/) and the endpoint
`reports.supervisor_page` (listed in CONSOLE_NAV) stay as they were. The figures are the ones the
summary SMS carries (same functions), and the page shows that SMS text too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from hotline.alerts.cli import reports_cli
from hotline.alerts.settings import alert_settings
from hotline.alerts.summary import summary_text
from hotline.alerts.supervisor import active_alerts, check_clock
from hotline.checkins import queries as checkin_queries
from hotline.db import db
from hotline.i18n import current_language
from hotline.lines.models import Line
from hotline.operators.auth import role_required
from hotline.operators.models import Role
from hotline.reports import metrics, sources
from hotline.reports.metrics import TrendDay
from hotline.schedule import clock_id
from hotline.sms import texts
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("reports", __name__, url_prefix="/console/reports", template_folder="templates")


def init_app(app) -> None:
    """The `flask reports` commands (and `flask sms check-clock`, added to the sms group)."""
    app.cli.add_command(reports_cli)


# --------------------------------------------------------------------------- the trend chart

CHART_WIDTH, CHART_HEIGHT = 640, 240
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 48, 600, 16, 200


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    answered_y: float
    answered_height: float
    other_y: float
    other_height: float
    label: str
    title: str


@dataclass(frozen=True)
class Chart:
    """Geometry of the 7-day chart (inline SVG, drawn by the template; no script, no CDN)."""

    bars: list[Bar]
    level_points: str  # SVG polyline points of the service level (of offered), 0-100 %
    level_dots: list[tuple[float, float, str]]
    max_calls: int
    y_ticks: list[tuple[float, str]]


def trend_chart(days: list[TrendDay], *, lang: str) -> Chart:
    """Bars of offered calls per day (answered / not answered) and the service level line."""
    max_calls = max([d.calls.offered for d in days] + [1])
    plot_h = PLOT_BOTTOM - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(days), 1)
    width = slot * 0.6
    bars, points, dots = [], [], []
    for i, day in enumerate(days):
        c = day.calls
        x = PLOT_LEFT + i * slot + (slot - width) / 2
        answered_h = plot_h * c.answered / max_calls
        other_h = plot_h * (c.offered - c.answered) / max_calls
        label = f"{day.day:%m-%d}"
        level = texts.percent(c.service_level_offered)
        title = (
            f"{label}: {c.offered} offered, {c.answered} answered, {level} within {c.threshold_seconds}s"
            if lang == "en"
            else f"{label}:来电{c.offered},接通{c.answered},{c.threshold_seconds}秒接通率{level}"
        )
        bars.append(
            Bar(
                x=round(x, 1),
                width=round(width, 1),
                answered_y=round(PLOT_BOTTOM - answered_h, 1),
                answered_height=round(answered_h, 1),
                other_y=round(PLOT_BOTTOM - answered_h - other_h, 1),
                other_height=round(other_h, 1),
                label=label,
                title=title,
            )
        )
        if c.service_level_offered is not None:
            cx = round(x + width / 2, 1)
            cy = round(PLOT_BOTTOM - plot_h * c.service_level_offered, 1)
            points.append(f"{cx},{cy}")
            dots.append((cx, cy, level))
    ticks = [(round(PLOT_BOTTOM - plot_h * f, 1), f"{int(f * 100)}%") for f in (0, 0.5, 1)]
    return Chart(bars, " ".join(points), dots, max_calls, ticks)


# --------------------------------------------------------------------------- the page


def _clock_status(now) -> dict:
    """Raise the clock-silent alert from here too (the clock cannot report its own silence)."""
    try:
        check_clock(db.session, clock=f"web:{clock_id()}", now=now)
    except Exception:  # noqa: BLE001 - the page must show even if the alert cannot be sent
        db.session.rollback()
        log.exception("clock check from the supervisor page failed")
    last = sources.clock_last_heartbeat(db.session)
    limit = alert_settings().clock_silent_seconds
    return {
        "last_seen_at": last,
        "silent_seconds": None if last is None else (now - last).total_seconds(),
        "is_silent": last is None or (now - last).total_seconds() > limit,
    }


@bp.get("/")
@role_required(Role.SUPERVISOR)
def supervisor_page():
    """Today's numbers of one line, its scenarios, the 7-day trend and the open alerts."""
    session = db.session
    lines = metrics.active_lines(session)
    if not lines:
        abort(404)
    wanted = request.args.get("line", "")
    line = next((ln for ln in lines if ln.key == wanted), lines[0])
    now = utcnow()
    clock = _clock_status(now)
    report = metrics.today_report(session, line, now=now)
    live = metrics.live_numbers(session, line)
    days = metrics.trend(session, line, days=7, now=now)
    checkins = checkin_queries.day_figures(session, line, report.local_day, now=now)
    lang = "en" if current_language() == "en" else "zh"
    return render_template(
        "reports/supervisor.html",
        lines=lines,
        line=line,
        report=report,
        live=live,
        days=days,
        chart=trend_chart(days, lang=lang),
        alerts=active_alerts(session),
        clock=clock,
        checkins=checkins,
        sms_preview=summary_text(session, line, report, lang, now, checkins),
        percent=texts.percent,
        duration=lambda s: texts.duration(s, lang),
        scenario_name=lambda code: texts.scenario_name(code, lang),
        line_by_id={ln.id: ln for ln in session.scalars(select(Line))},
    )
