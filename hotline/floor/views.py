"""The floor pages (blueprint `floor`): the supervisors' live board and the operator's day.

- GET /console/floor/board (supervisor): every operator's state, since when, why, and the
  caller they are with; its script polls GET /console/floor/api/board every 2 s.
- GET /console/floor/day (operator): the day's (or week's) figures per operator, a sortable
  table, a small SVG chart of calls per operator, and GET /console/floor/day.csv. Operators see
  their own figures only; supervisors and admins see everyone's (or one operator's with
  ?operator=<id>).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from flask import Blueprint, Response, jsonify, render_template, request
from flask_login import current_user

from hotline.cases.export import csv_safe
from hotline.db import db
from hotline.floor import board, day
from hotline.i18n import t
from hotline.operators.auth import role_required
from hotline.operators.models import Role
from hotline.timeutil import console_timezone, utcnow

bp = Blueprint(
    "floor",
    __name__,
    url_prefix="/console/floor",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/floor",
)

#: How often the live board asks for the state of the floor.
BOARD_POLL_MILLISECONDS = 2000


# --------------------------------------------------------------------------- the live board


@bp.get("/board")
@role_required(Role.SUPERVISOR)
def board_page():
    """The live board (its rows come from the JSON API)."""
    return render_template("floor/board.html", poll_ms=BOARD_POLL_MILLISECONDS)


@bp.get("/api/board")
@role_required(Role.SUPERVISOR)
def api_board():
    """The floor right now (polled). Commits the lazy presence checks it ran."""
    state = board.board_state(db.session, utcnow())
    db.session.commit()
    response = jsonify(state)
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- the operator's day


def _sees_everyone() -> bool:
    return current_user.has_role(Role.SUPERVISOR)


def _chosen_window() -> tuple[date, str]:
    """The day and period asked for (?day=YYYY-MM-DD&period=day|week), today by default."""
    zone = console_timezone()
    try:
        chosen = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        chosen = utcnow().astimezone(zone).date()
    period = request.args.get("period", "day")
    return chosen, period if period in day.PERIODS else "day"


def _scope() -> tuple[date, str, datetime, datetime, int | None]:
    """The window asked for and whose figures: an operator's own only, whatever the URL asks
    for; a supervisor's everyone's, or one operator's (?operator=<id>)."""
    chosen, period = _chosen_window()
    start, end = day.window(chosen, period, console_timezone().key)
    only = current_user.id
    if _sees_everyone():
        picked = request.args.get("operator", "")
        only = int(picked) if picked.isdigit() else None
    return chosen, period, start, end, only


def _figures() -> tuple[date, str, list[day.OperatorDay]]:
    chosen, period, start, end, only = _scope()
    return chosen, period, day.operator_days(db.session, start, end, operator_id=only)


CHART_WIDTH, ROW_HEIGHT, LABEL_WIDTH, BAR_SPACE = 560, 26, 140, 380


@dataclass(frozen=True)
class ChartBar:
    y: int
    width: float
    name: str
    calls: int


def calls_chart(rows: list[day.OperatorDay]) -> list[ChartBar]:
    """Horizontal bars of calls handled per operator (drawn as inline SVG by the template)."""
    most = max([r.calls_handled for r in rows] + [1])
    return [
        ChartBar(
            y=i * ROW_HEIGHT,
            width=round(BAR_SPACE * r.calls_handled / most, 1),
            name=r.name,
            calls=r.calls_handled,
        )
        for i, r in enumerate(rows)
    ]


HOUR_WIDTH, HOURS_HEIGHT = 22, 120


@dataclass(frozen=True)
class HourBar:
    x: int
    y: float
    height: float
    hour: int
    calls: int


def hours_chart(by_hour: dict[int, int]) -> list[HourBar]:
    """Vertical bars of calls answered per local hour, 0 to 23 (inline SVG)."""
    most = max([*by_hour.values(), 1])
    bars = []
    for hour in range(24):
        calls = by_hour.get(hour, 0)
        height = round(HOURS_HEIGHT * calls / most, 1)
        bars.append(HourBar(hour * HOUR_WIDTH, HOURS_HEIGHT - height, height, hour, calls))
    return bars


@bp.get("/day")
@role_required(Role.OPERATOR)
def day_page():
    """The operator's day (or week): a table that sorts by any column, charts, CSV."""
    chosen, period, start, end, only = _scope()
    rows = day.operator_days(db.session, start, end, operator_id=only)
    by_hour = day.calls_by_hour(db.session, start, end, console_timezone().key, only)
    return render_template(
        "floor/day.html",
        rows=rows,
        chosen=chosen,
        period=period,
        everyone=_sees_everyone(),
        picked=request.args.get("operator", "") if _sees_everyone() else "",
        bars=calls_chart(rows),
        chart_width=CHART_WIDTH,
        chart_height=max(len(rows), 1) * ROW_HEIGHT,
        label_width=LABEL_WIDTH,
        hours=hours_chart(by_hour),
        hour_width=HOUR_WIDTH,
        hours_height=HOURS_HEIGHT,
    )


CSV_COLUMNS = (
    ("operator_id", "坐席编号", "operator id"),
    ("name", "坐席", "operator"),
    ("calls_handled", "接听通话", "calls handled"),
    ("average_talk_seconds", "平均通话秒数", "average talk (s)"),
    ("longest_call_seconds", "最长通话秒数", "longest call (s)"),
    ("average_wrap_up_seconds", "平均整理秒数", "average wrap-up (s)"),
    ("callbacks_placed", "安排回电", "callbacks placed"),
    ("callbacks_reached", "回电接通", "callbacks reached"),
    ("transfers", "转接", "transfers"),
    ("transfers_reached", "转接接通", "transfers reached"),
    ("cases_opened", "新建工单", "cases opened"),
    ("cases_resolved", "解决工单", "cases resolved"),
)


@bp.get("/day.csv")
@role_required(Role.OPERATOR)
def day_csv():
    """The same figures as CSV (a header row in the console language)."""
    chosen, period, rows = _figures()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t(zh, en) for _key, zh, en in CSV_COLUMNS])
    for row in rows:
        data = row.as_dict()
        # A name a spreadsheet would run as a formula is quoted (the cases export's rule).
        writer.writerow([csv_safe(data[key]) for key, _zh, _en in CSV_COLUMNS])
    name = f"operator-{period}-{chosen.isoformat()}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM so spreadsheet programs read the Chinese as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
