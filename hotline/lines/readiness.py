"""What stops a line from working, in plain words: shown on /healthz and the admin home.

Each problem is one sentence an administrator can act on without reading code. Nothing here
writes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line, LineRecipient
from hotline.operators.models import Operator, Role
from hotline.phone import mask, try_normalise
from hotline.timeutil import utcnow


class Problem(NamedTuple):
    """One thing that stops a line from working, in both console languages (str(): English,
    as /healthz reports it)."""

    zh: str
    en: str

    def __str__(self) -> str:
        return self.en


#: How far back a call to an unknown number is still worth reporting.
UNKNOWN_NUMBER_DAYS = 14


def readiness_problems(
    session: Session,
    *,
    valid_scripts: Collection[tuple[str, str]],
    region: str = "CN",
    today: date | None = None,
) -> list[Problem]:
    """Every reason a line cannot work as set up. `valid_scripts` is the (script key, language)
    pairs that passed the IVR checker."""
    problems: list[Problem] = []
    lines = list(session.scalars(select(Line).order_by(Line.id)))
    active = [line for line in lines if line.is_active]
    if not active:
        problems.append(
            Problem(
                "没有启用的线路:来电无人接听。请在“线路”里新建一条(或用 `flask lines add`)。",
                "No active line: calls cannot be answered. Create one under Lines "
                "(or `flask lines add`).",
            )
        )
    problems += _unknown_numbers(session, {line.phone_number for line in active}, region)
    named = set(session.scalars(select(LineRecipient.line_id).distinct()))
    for line in active:
        if line.id not in named:
            problems.append(
                Problem(
                    f"线路 {line.key} 没有指定接收提醒的值班负责人:所有有手机号的值班负责人和"
                    "管理员都会收到短信。请在“线路”里选择通知谁。",
                    f"Line {line.key} names no supervisor for alerts: every active supervisor "
                    "and admin with a phone is texted instead. Choose who is told under Lines.",
                )
            )
        if (line.script_key, line.default_language) not in valid_scripts:
            problems.append(
                Problem(
                    f"线路 {line.key}:语音脚本 {line.script_key}.{line.default_language} 不存在"
                    "或没有通过检查(`flask ivr check`),来电只能留言。",
                    f"Line {line.key}: script {line.script_key}.{line.default_language} is "
                    "missing or fails the checker (`flask ivr check`); its callers get voicemail.",
                )
            )
        if not _window_inside_hours(line, today or utcnow().date()):
            problems.append(
                Problem(
                    f"线路 {line.key}:有些工作日的回电时段超出了开放时间,回电时可能没有人值班。",
                    f"Line {line.key}: the calling window for callbacks is outside the opening "
                    "hours on some working days, so callbacks may ring while nobody is on duty.",
                )
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
            Problem(
                "没有一位在岗坐席登记了电话号码:来电无法接通到用电话接听的人。"
                "请在“坐席管理”里添加电话。",
                "No active operator has a phone number: a call cannot be put through to anyone "
                "who answers by phone. Add a phone under Operators.",
            )
        )
    return problems


def _unknown_numbers(session: Session, known: set[str], region: str) -> list[Problem]:
    since = utcnow() - timedelta(days=UNKNOWN_NUMBER_DAYS)
    dialled = session.scalars(
        select(Call.to_number).where(Call.created_at >= since, Call.to_number != "").distinct()
    )
    unknown = sorted(
        {number for raw in dialled if (number := try_normalise(raw, region)) not in known} - {None}
    )
    return [
        Problem(
            f"有来电打到 {mask(number)},这个号码不属于任何启用的线路:已由第一条启用的线路接听。"
            "请为它新建线路,或改正线路号码。",
            f"Calls came in to {mask(number)}, which is not an active line's number: they were "
            "served by the first active line. Add a line for it, or correct its number.",
        )
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
