"""Which enrolments are due when (hotline.checkins.schedule): a pure function, table-tested on a
frozen clock across time zones, a DST zone, Chinese public holidays and make-up workdays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from hotline.checkins.models import CalendarRule, CheckinEnrolment, EnrolmentStatus
from hotline.checkins.schedule import due_now, is_due_on, is_public_holiday, next_due
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line


def _calendar(zone: str = "Asia/Shanghai", overrides=None) -> LineCalendar:
    return LineCalendar(Line(timezone=zone), overrides or {})


def _enrolment(**fields) -> CheckinEnrolment:
    fields.setdefault("status", EnrolmentStatus.ACTIVE)
    fields.setdefault("calendar_rule", CalendarRule.EVERY_DAY)
    fields.setdefault("days_of_week", [])
    fields.setdefault("skip_public_holidays", False)
    fields.setdefault("window_start", time(9, 0))
    fields.setdefault("window_end", time(11, 0))
    return CheckinEnrolment(**fields)


# 2026: National Day 1-7 Oct (Thu 1 Oct is a holiday); Sun 20 Sep and Sat 10 Oct are make-up
# workdays (调休); Sun 15 Feb is inside the Spring Festival holiday; Sat 14 Feb is worked.
EVERY = {"calendar_rule": CalendarRule.EVERY_DAY}
EVERY_SKIP = {"calendar_rule": CalendarRule.EVERY_DAY, "skip_public_holidays": True}
WORKING = {"calendar_rule": CalendarRule.WORKING_DAYS}
MON_WED_SAT = {"calendar_rule": CalendarRule.CHOSEN_DAYS, "days_of_week": [0, 2, 5]}
MON_WED_SAT_SKIP = {**MON_WED_SAT, "skip_public_holidays": True}


@pytest.mark.parametrize(
    ("fields", "day", "due"),
    [
        (EVERY, date(2026, 12, 5), True),  # a Saturday
        (EVERY, date(2026, 10, 1), True),  # National Day: every day means every day
        (EVERY_SKIP, date(2026, 10, 1), False),
        (EVERY_SKIP, date(2026, 10, 3), False),  # a holiday on a Saturday is still a holiday
        (EVERY_SKIP, date(2026, 12, 6), True),  # an ordinary Sunday is no holiday
        (WORKING, date(2026, 12, 4), True),  # Friday
        (WORKING, date(2026, 12, 5), False),  # Saturday
        (WORKING, date(2026, 10, 1), False),  # National Day (Thursday)
        (WORKING, date(2026, 9, 20), True),  # make-up workday on a Sunday
        (WORKING, date(2026, 10, 10), True),  # make-up workday on a Saturday
        (WORKING, date(2026, 2, 14), True),  # Saturday before Spring Festival, worked
        (WORKING, date(2026, 2, 15), False),  # Spring Festival holiday
        (MON_WED_SAT, date(2026, 12, 7), True),  # Monday
        (MON_WED_SAT, date(2026, 12, 8), False),  # Tuesday
        (MON_WED_SAT, date(2026, 10, 3), True),  # a holiday Saturday, not skipped
        (MON_WED_SAT_SKIP, date(2026, 10, 3), False),
        (MON_WED_SAT_SKIP, date(2026, 9, 20), False),  # make-up Sunday: not a chosen day
        (MON_WED_SAT_SKIP, date(2026, 10, 10), True),  # make-up Saturday: no holiday
        ({**EVERY, "status": EnrolmentStatus.STOPPED}, date(2026, 12, 7), False),
        (
            {**EVERY, "status": EnrolmentStatus.PAUSED, "paused_until": date(2026, 12, 7)},
            date(2026, 12, 7),
            False,
        ),
        (
            {**EVERY, "status": EnrolmentStatus.PAUSED, "paused_until": date(2026, 12, 7)},
            date(2026, 12, 8),
            True,
        ),
    ],
)
def test_is_due_on(fields, day, due):
    assert is_due_on(_enrolment(**fields), _calendar(), day) is due


def test_line_overrides_win_over_the_national_calendar():
    # A local closure on a Tuesday is a holiday; a local opening on National Day is not.
    calendar = _calendar(overrides={date(2026, 12, 8): False, date(2026, 10, 2): True})
    assert is_public_holiday(calendar, date(2026, 12, 8))
    assert not is_public_holiday(calendar, date(2026, 10, 2))
    assert not is_due_on(_enrolment(**WORKING), calendar, date(2026, 12, 8))
    assert is_due_on(_enrolment(**WORKING), calendar, date(2026, 10, 2))
    assert not is_due_on(_enrolment(**EVERY_SKIP), calendar, date(2026, 12, 8))


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # Shanghai (UTC+8, no DST): 09:00-11:00 local is 01:00-03:00 UTC.
        ("Asia/Shanghai", datetime(2026, 12, 7, 0, 59, tzinfo=UTC), None),
        (
            "Asia/Shanghai",
            datetime(2026, 12, 7, 1, 0, tzinfo=UTC),
            (date(2026, 12, 7), datetime(2026, 12, 7, 1, 0, tzinfo=UTC)),
        ),
        ("Asia/Shanghai", datetime(2026, 12, 7, 3, 0, tzinfo=UTC), None),  # the end is open
        # Urumqi (UTC+6 by the tz database): the local date decides, not the UTC date.
        (
            "Asia/Urumqi",
            datetime(2026, 12, 7, 3, 30, tzinfo=UTC),
            (date(2026, 12, 7), datetime(2026, 12, 7, 3, 0, tzinfo=UTC)),
        ),
        # Los Angeles: 09:00 is 17:00 UTC in winter (PST) and 16:00 UTC in summer (PDT).
        (
            "America/Los_Angeles",
            datetime(2026, 12, 7, 17, 30, tzinfo=UTC),
            (date(2026, 12, 7), datetime(2026, 12, 7, 17, 0, tzinfo=UTC)),
        ),
        (
            "America/Los_Angeles",
            datetime(2026, 7, 6, 16, 30, tzinfo=UTC),
            (date(2026, 7, 6), datetime(2026, 7, 6, 16, 0, tzinfo=UTC)),
        ),
        ("America/Los_Angeles", datetime(2026, 7, 6, 18, 0, tzinfo=UTC), None),
        # The DST changeover day itself (8 March 2026, 02:00 skipped): 09:00 PDT = 16:00 UTC.
        (
            "America/Los_Angeles",
            datetime(2026, 3, 8, 16, 0, tzinfo=UTC),
            (date(2026, 3, 8), datetime(2026, 3, 8, 16, 0, tzinfo=UTC)),
        ),
    ],
)
def test_due_now_across_time_zones(zone, now, expected):
    window = due_now(_enrolment(), _calendar(zone), now)
    if expected is None:
        assert window is None
    else:
        assert (window.due_date, window.start_at) == expected
        assert (window.end_at - window.start_at).total_seconds() == 2 * 3600


def test_due_now_respects_the_calendar_rule():
    # Saturday 5 Dec 2026, 10:00 in Shanghai: working-day enrolments are not due.
    now = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert due_now(_enrolment(**WORKING), _calendar(), now) is None
    assert due_now(_enrolment(**EVERY), _calendar(), now) is not None


def test_next_due_skips_the_national_day_holiday():
    # Thursday 1 Oct 2026, 12:00 Shanghai, working days: the holiday (with its substituted days
    # off on 6 and 7 Oct) ends on Wednesday 7 Oct, so the next check-in is Thursday 8 Oct.
    now = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
    window = next_due(_enrolment(**WORKING), _calendar(), now)
    assert window is not None
    assert window.due_date == date(2026, 10, 8)
    assert next_due(_enrolment(status=EnrolmentStatus.STOPPED), _calendar(), now) is None
