"""Which enrolments are due when: a pure function of (enrolment, line calendar, now).

Rules, in the line's time zone (every line has one; China's zones have no daylight saving, but a
line elsewhere may, and `datetime.combine(..., tzinfo=zone)` then gives the right offset for
that date):

- A stopped enrolment is never due. A paused one is not due on any date up to and including
  `paused_until`; it is due again the day after (the clock also resumes it then).
- EVERY_DAY: every date; CHOSEN_DAYS: the dates whose weekday (0 = Monday) is chosen. Both skip
  public holidays only when `skip_public_holidays` is set.
- WORKING_DAYS: the line's working days: weekdays that are not public holidays, plus make-up
  workdays (调休) on a weekend, with the line's calendar overrides winning (LineCalendar).
- A public holiday is a national holiday by name (the `holidays` package), or a weekday that a
  calendar override closes; an override that opens a day makes it no holiday.
- The day's window is [window_start, window_end) local time; the clock creates the day's
  episode once `now` is inside it (an enrolment made after today's window starts tomorrow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hotline.checkins.models import CalendarRule, CheckinEnrolment, EnrolmentStatus
from hotline.lines.calendar import LineCalendar, holiday_name


@dataclass(frozen=True)
class DueWindow:
    """One due check-in: the local date and its window in UTC."""

    due_date: date
    start_at: datetime
    end_at: datetime


def is_public_holiday(calendar: LineCalendar, day: date) -> bool:
    """A national holiday, or a weekday the line's overrides close (see the module rules)."""
    if day in calendar.overrides:
        return not calendar.overrides[day] and day.weekday() < 5
    return holiday_name(day) is not None


def is_due_on(enrolment: CheckinEnrolment, calendar: LineCalendar, day: date) -> bool:
    """True when `enrolment` wants a check-in on the local date `day`."""
    if enrolment.status == EnrolmentStatus.STOPPED:
        return False
    if enrolment.status == EnrolmentStatus.PAUSED and (
        enrolment.paused_until is None or day <= enrolment.paused_until
    ):
        return False
    rule = enrolment.calendar_rule
    if rule == CalendarRule.WORKING_DAYS:
        return calendar.is_working_day(day)
    if rule == CalendarRule.CHOSEN_DAYS and day.weekday() not in set(enrolment.days_of_week):
        return False
    return not (enrolment.skip_public_holidays and is_public_holiday(calendar, day))


def window_on(enrolment: CheckinEnrolment, calendar: LineCalendar, day: date) -> DueWindow:
    """The enrolment's window on local date `day`, in UTC."""
    start = datetime.combine(day, enrolment.window_start, tzinfo=calendar.zone)
    end = datetime.combine(day, enrolment.window_end, tzinfo=calendar.zone)
    return DueWindow(day, start.astimezone(UTC), end.astimezone(UTC))


def due_now(enrolment: CheckinEnrolment, calendar: LineCalendar, now: datetime) -> DueWindow | None:
    """Today's window (line time zone) when the enrolment is due today and `now` is inside it."""
    day = calendar.local(now).date()
    if not is_due_on(enrolment, calendar, day):
        return None
    window = window_on(enrolment, calendar, day)
    if window.start_at <= now < window.end_at:
        return window
    return None


def next_due(
    enrolment: CheckinEnrolment, calendar: LineCalendar, now: datetime, *, horizon_days: int = 60
) -> DueWindow | None:
    """The next window that has not ended yet (today's if still open), or None within the
    horizon (stopped, or no chosen day falls in it). For the console and the CLI."""
    today = calendar.local(now).date()
    for offset in range(horizon_days):
        day = today + timedelta(days=offset)
        if is_due_on(enrolment, calendar, day):
            window = window_on(enrolment, calendar, day)
            if window.end_at > now:
                return window
    return None


def in_window(enrolment: CheckinEnrolment, calendar: LineCalendar, at: datetime) -> bool:
    """True when `at` lies in the enrolment's window of its local date (whether due or not)."""
    local = calendar.local(at).time()
    return enrolment.window_start <= local < enrolment.window_end
