"""Hours per weekday, with "open all day", closed weekdays and make-up working days."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _line(**fields) -> Line:
    base = dict(
        key="t", name="t", phone_number="+861000000000", timezone="Asia/Shanghai",
        opens_at=time(8), closes_at=time(20), is_open_every_day=False, weekly_hours={},
    )  # fmt: skip
    return Line(**{**base, **fields})


def test_weekday_hours_override_the_usual_hours():
    cal = LineCalendar(_line(weekly_hours={"2": ["09:00", "12:00"], "3": ["00:00", "00:00"]}))
    tuesday, wednesday, thursday = date(2027, 3, 9), date(2027, 3, 10), date(2027, 3, 11)
    assert cal.hours_on(tuesday) == (time(8), time(20))
    assert cal.hours_on(wednesday) == (time(9), time(12))
    assert not cal.is_open(datetime(2027, 3, 10, 13, 0, tzinfo=SHANGHAI))
    assert cal.is_open(datetime(2027, 3, 11, 23, 30, tzinfo=SHANGHAI))  # open all day
    assert cal.hours_on(thursday) == (time(0), time(0))


def test_a_closed_weekday_still_opens_on_a_make_up_working_day():
    # 2026-02-14 is a Saturday worked instead of a Spring Festival day (调休).
    cal = LineCalendar(_line(weekly_hours={"5": None}))
    assert cal.hours_on(date(2026, 2, 14)) == (time(8), time(20))
    assert cal.hours_on(date(2026, 2, 21)) is None
    every_day = LineCalendar(_line(is_open_every_day=True, weekly_hours={"5": None}))
    assert every_day.hours_on(date(2027, 3, 13)) is None  # an ordinary Saturday, closed


def test_working_days_only_closes_public_holidays():
    cal = LineCalendar(_line())
    assert cal.hours_on(date(2027, 10, 1)) is None
    assert LineCalendar(_line(), {date(2027, 10, 1): True}).hours_on(date(2027, 10, 1)) == (
        time(8),
        time(20),
    )
