"""What stops a line from working, in plain words: shown on /healthz and the admin home.

Each problem is one sentence an administrator can act on without reading code. Nothing here
writes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line, LineRecipient
from hotline.operators.models import Operator, Role
from hotline.phone import mask, try_normalise
from hotline.timeutil import utcnow

#: How far back a call to an unknown number is still worth reporting.
UNKNOWN_NUMBER_DAYS = 14


def readiness_problems(
    session: Session,
    *,
    valid_scripts: Collection[tuple[str, str]],
    region: str = "CN",
    today: date | None = None,
) -> list[str]:
    """Every reason a line cannot work as set up. `valid_scripts` is the (script key, language)
    pairs that passed the IVR checker."""
    problems: list[str] = []
    lines = list(session.scalars(select(Line).order_by(Line.id)))
    active = [line for line in lines if line.is_active]
    if not active:
        problems.append(
            "No active line: calls cannot be answered. Create one under Lines "
            "(or `flask lines add`)."
        )
    problems += _unknown_numbers(session, {line.phone_number for line in active}, region)
    named = set(session.scalars(select(LineRecipient.line_id).distinct()))
    for line in active:
        if line.id not in named:
            problems.append(
                f"Line {line.key} names no supervisor for alerts: every active supervisor and "
                "admin with a phone is texted instead. Choose who is told under Lines."
            )
        if (line.script_key, line.default_language) not in valid_scripts:
            problems.append(
                f"Line {line.key}: script {line.script_key}.{line.default_language} is missing "
                "or fails the checker (`flask ivr check`); its callers get voicemail."
            )
        if not _window_inside_hours(line, today or utcnow().date()):
            problems.append(
                f"Line {line.key}: the calling window for callbacks is outside the opening "
                "hours on some working days, so callbacks may ring while nobody is on duty."
            )
    has_phone = session.scalar(
        select(Operator.id).where(
            Operator.is_active,
            Operator.role.in_((Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)),
            Operator.phone_number.is_not(None),
            Operator.phone_number != "",
        )
    )
    if has_phone is None:
        problems.append(
            "No active operator has a phone number: a call cannot be put through to anyone "
            "who answers by phone. Add a phone under Operators."
        )
    return problems


def _unknown_numbers(session: Session, known: set[str], region: str) -> list[str]:
    since = utcnow() - timedelta(days=UNKNOWN_NUMBER_DAYS)
    dialled = session.scalars(
        select(Call.to_number).where(Call.created_at >= since, Call.to_number != "").distinct()
    )
    unknown = sorted(
        {number for raw in dialled if (number := try_normalise(raw, region)) not in known} - {None}
    )
    return [
        f"Calls came in to {mask(number)}, which is not an active line's number: they were "
        "served by the first active line. Add a line for it, or correct its number."
        for number in unknown
    ]


def _window_inside_hours(line: Line, today: date) -> bool:
    """True when, on each of the next seven working days, the calling window sits inside the
    opening hours (a day with no window or no hours is skipped)."""
    calendar = LineCalendar(line)
    start, end = line.callback_window_start, line.callback_window_end
    for offset in range(7):
        day = today + timedelta(days=offset)
        if not calendar.is_working_day(day):
            continue
        hours = calendar.hours_on(day)
        if hours is None:
            return False  # callbacks ring on a working day the line is closed
        opens, closes = hours
        if opens == closes:
            continue  # open all day
        if start == end or start < opens or end > closes:
            return False
    return True
