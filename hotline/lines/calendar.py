"""Working days and opening hours: Chinese public holidays and make-up workdays (调休).

The national calendar comes from the `holidays` package, which knows both the days off and the
weekend days that are worked instead; local overrides (CalendarOverride rows) win over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline.lines.models import CalendarOverride, Line


@lru_cache(maxsize=16)
def _china(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year)


def national_is_working_day(day: date) -> bool:
    """Working day by the national calendar: weekdays that are not holidays, plus make-up days."""
    return bool(_china(day.year).is_working_day(day))


def holiday_name(day: date) -> str | None:
    """The national holiday's name on `day`, if any."""
    return _china(day.year).get(day)


class LineCalendar:
    """A line's calendar: national rules plus local overrides, in the line's time zone."""

    def __init__(self, line: Line, overrides: Mapping[date, bool] | None = None):
        self.line = line
        self.zone = ZoneInfo(line.timezone)
        self.overrides = dict(overrides or {})

    @classmethod
    def load(cls, session: Session, line: Line) -> LineCalendar:
        """Read the overrides for `line` (line-specific ones beat deployment-wide ones)."""
        rows = session.scalars(
            select(CalendarOverride).where(
                or_(CalendarOverride.line_id.is_(None), CalendarOverride.line_id == line.id)
            )
        ).all()
        overrides: dict[date, bool] = {}
        for row in sorted(rows, key=lambda r: r.line_id is not None):
            overrides[row.day] = row.is_working_day
        return cls(line, overrides)

    def is_working_day(self, day: date) -> bool:
        """True when `day` is a working day for this line."""
        if day in self.overrides:
            return self.overrides[day]
        return national_is_working_day(day)

    def local(self, at: datetime) -> datetime:
        """`at` in the line's time zone."""
        return at.astimezone(self.zone)

    def hours_on(self, day: date) -> tuple[time, time] | None:
        """The opening hours on `day` (equal times: all day), or None when closed all day.

        A weekday marked closed in `Line.weekly_hours` still opens on a make-up working day
        (调休), with the line's default hours: the state asked for that day to be worked.
        """
        if not self.line.is_open_every_day and not self.is_working_day(day):
            return None
        default = (self.line.opens_at, self.line.closes_at)
        weekly = self.line.weekly_hours or {}
        key = str(day.weekday())
        if key not in weekly:
            return default
        hours = weekly[key]
        if hours is None:
            is_make_up_day = day.weekday() >= 5 and self.is_working_day(day)
            return default if is_make_up_day else None
        return time.fromisoformat(hours[0]), time.fromisoformat(hours[1])

    def is_open(self, at: datetime) -> bool:
        """True when the line takes calls at `at` (aware datetime)."""
        local = self.local(at)
        hours = self.hours_on(local.date())
        return hours is not None and _within(local.time(), *hours)

    def in_calling_window(self, at: datetime) -> bool:
        """True when a callback may be placed at `at`: a working day, inside the window."""
        local = self.local(at)
        return self.is_working_day(local.date()) and _within(
            local.time(), self.line.callback_window_start, self.line.callback_window_end
        )

    def next_calling_time(self, not_before: datetime) -> datetime:
        """The earliest moment at or after `not_before` inside the calling window.

        Agrees with `in_calling_window` for every window shape: start == end is the whole
        working day, and a window across midnight (start > end) is two pieces of each working
        day, [00:00, end) and [start, 24:00).
        """
        local = self.local(not_before)
        for offset in range(0, 60):
            day = local.date() + timedelta(days=offset)
            if not self.is_working_day(day):
                continue
            for piece_start, piece_end in self._window_pieces(day):
                candidate = max(piece_start, local)
                if candidate < piece_end:
                    return candidate.astimezone(not_before.tzinfo)
        raise RuntimeError("no working day in the next 60 days; check the calendar overrides")

    def _window_pieces(self, day: date) -> list[tuple[datetime, datetime]]:
        """The calling window on `day` as [start, end) intervals in local time, in order."""
        start, end = self.line.callback_window_start, self.line.callback_window_end
        midnight = datetime.combine(day, time(0, 0), self.zone)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0, 0), self.zone)
        if start == end:
            return [(midnight, next_midnight)]
        opens = datetime.combine(day, start, self.zone)
        closes = datetime.combine(day, end, self.zone)
        if start < end:
            return [(opens, closes)]
        return [(midnight, closes), (opens, next_midnight)]

    def next_working_day_start(self, after: datetime) -> datetime:
        """The start of the calling window on the next working day after `after`'s date."""
        local = self.local(after)
        return self.next_calling_time(
            datetime.combine(local.date() + timedelta(days=1), time(0, 0), self.zone)
        ).astimezone(after.tzinfo)


def _within(moment: time, start: time, end: time) -> bool:
    """True when `moment` is in [start, end); start == end means all day."""
    if start == end:
        return True
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # a window across midnight
