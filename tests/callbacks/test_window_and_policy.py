"""Callbacks ring only inside the calling window on working days: Chinese public holidays are
off, make-up workdays (调休) are on, local overrides win; retries follow the line's policy."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackStatus
from hotline.callbacks.policy import PolicyError, next_attempt_at, parse_delays
from hotline.db import db
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import CalendarOverride, Line

from .conftest import create_requests, dispatch, get_callback, local, number


def _line(**fields) -> Line:
    values = {
        "key": "t",
        "name": "长者服务热线",
        "phone_number": "+861012345678",
        "timezone": "Asia/Shanghai",
        "callback_window_start": time(8, 30),
        "callback_window_end": time(20, 0),
        "callback_max_attempts": 3,
        "callback_retry_delays": "30m,2h,next_working_day",
    }
    values.update(fields)
    return Line(**values)


def _calendar(overrides=None, **fields) -> LineCalendar:
    return LineCalendar(_line(**fields), overrides)


# --------------------------------------------------------------------------- the calendar


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2025, 3, 4, 10), local(2025, 3, 4, 10)),  # a Tuesday morning: now
        (local(2025, 3, 4, 7, 0), local(2025, 3, 4, 8, 30)),  # too early: the window opens
        (local(2025, 3, 4, 20, 0), local(2025, 3, 5, 8, 30)),  # closing time: next morning
        (local(2025, 3, 7, 21, 0), local(2025, 3, 10, 8, 30)),  # Friday night: Monday
        (local(2025, 3, 8, 10, 0), local(2025, 3, 10, 8, 30)),  # a Saturday: Monday
    ],
)
def test_next_calling_time_keeps_to_the_window_and_working_days(moment, expected):
    assert _calendar().next_calling_time(moment) == expected


def test_national_day_holiday_is_skipped_and_its_make_up_saturday_is_worked():
    calendar = _calendar()
    # 2024: National Day 1-7 October off; Sunday 29 September and Saturday 12 October worked.
    assert calendar.next_calling_time(local(2024, 9, 30, 21)) == local(2024, 10, 8, 8, 30)
    assert calendar.next_calling_time(local(2024, 9, 29, 9)) == local(2024, 9, 29, 9)
    assert calendar.next_calling_time(local(2024, 10, 11, 20, 30)) == local(2024, 10, 12, 8, 30)
    assert not calendar.in_calling_window(local(2024, 10, 3, 10))


def test_spring_festival_with_make_up_days_on_both_weekends():
    calendar = _calendar()
    # 2025: 28 Jan - 4 Feb off; Sunday 26 Jan and Saturday 8 Feb worked; Sunday 9 Feb off.
    assert calendar.in_calling_window(local(2025, 1, 26, 9))
    assert calendar.next_calling_time(local(2025, 1, 27, 20, 5)) == local(2025, 2, 5, 8, 30)
    assert calendar.in_calling_window(local(2025, 2, 8, 15))
    assert calendar.next_calling_time(local(2025, 2, 8, 20, 0)) == local(2025, 2, 10, 8, 30)


def test_local_override_beats_the_national_calendar():
    calendar = _calendar({date(2025, 3, 5): False, date(2025, 3, 8): True})
    assert calendar.next_calling_time(local(2025, 3, 4, 20, 30)) == local(2025, 3, 6, 8, 30)
    assert calendar.next_calling_time(local(2025, 3, 7, 21)) == local(2025, 3, 8, 8, 30)


def test_window_shapes_agree_with_in_calling_window():
    all_day = _calendar(callback_window_start=time(0, 0), callback_window_end=time(0, 0))
    assert all_day.next_calling_time(local(2025, 3, 4, 23, 59)) == local(2025, 3, 4, 23, 59)
    assert all_day.next_calling_time(local(2025, 3, 8, 12)) == local(2025, 3, 10, 0, 0)
    night = _calendar(callback_window_start=time(22, 0), callback_window_end=time(2, 0))
    for moment in (local(2025, 3, 4, 12), local(2025, 3, 4, 23), local(2025, 3, 7, 3)):
        found = night.next_calling_time(moment)
        assert night.in_calling_window(found) and found >= moment


# --------------------------------------------------------------------------- the retry policy


def test_policy_is_parsed_and_bad_entries_are_named():
    assert [d.minutes for d in parse_delays("30m, 2h ,next_working_day")] == [30, 120, None]
    with pytest.raises(PolicyError, match="'tomorrow'"):
        parse_delays("30m,tomorrow")
    with pytest.raises(PolicyError):
        parse_delays("")


def test_default_policy_waits_30_minutes_then_2_hours_then_the_next_working_day():
    calendar = _calendar()
    failed = local(2025, 3, 4, 10)
    assert next_attempt_at(calendar, failed_attempts=1, failed_at=failed) == local(
        2025, 3, 4, 10, 30
    )
    assert next_attempt_at(calendar, failed_attempts=2, failed_at=failed) == local(2025, 3, 4, 12)
    assert next_attempt_at(calendar, failed_attempts=3, failed_at=failed) == local(
        2025, 3, 5, 8, 30
    )
    # the last entry repeats for lines that allow more attempts
    assert next_attempt_at(calendar, failed_attempts=7, failed_at=failed) == local(
        2025, 3, 5, 8, 30
    )


def test_a_retry_that_would_fall_after_hours_waits_for_the_next_working_morning():
    calendar = _calendar()
    # +2 h from 18:30 on the Friday before the 2024 National Day holiday is after hours;
    # Saturday 28 Sep is a weekend, Sunday 29 Sep a make-up workday.
    assert next_attempt_at(
        calendar, failed_attempts=2, failed_at=local(2024, 9, 27, 18, 30)
    ) == local(2024, 9, 29, 8, 30)
    # "next working day" from the last day before the holiday is the day after it.
    assert next_attempt_at(calendar, failed_attempts=3, failed_at=local(2024, 9, 30, 9)) == local(
        2024, 10, 8, 8, 30
    )


# --------------------------------------------------------------------------- the dispatcher obeys


def test_a_request_made_at_night_is_due_the_next_working_morning(app, clock, make_callback):
    clock.move_to(local(2025, 3, 7, 22, 15))  # Friday night
    callback_id = make_callback()
    assert get_callback(app, callback_id).due_at == local(2025, 3, 10, 8, 30)


def test_nothing_rings_outside_the_window_even_when_the_clock_was_down(
    app, clock, make_callback, fake_calls, http_client
):
    clock.move_to(local(2025, 3, 4, 19, 50))
    callback_id = make_callback()
    # The clock was down from 19:50 to 20:30: the callback is due but the window has closed.
    clock.move_to(local(2025, 3, 4, 20, 30))
    report = dispatch(app)
    assert report.claimed == [] and create_requests(http_client) == []
    assert report.deferred == 1
    assert get_callback(app, callback_id).due_at == local(2025, 3, 5, 8, 30)
    clock.move_to(local(2025, 3, 5, 8, 29))
    assert dispatch(app).claimed == []
    clock.move_to(local(2025, 3, 5, 8, 30))
    assert len(dispatch(app).placed) == 1
    assert get_callback(app, callback_id).status == CallbackStatus.DIALING


def test_holiday_override_stops_the_dispatcher_for_that_line(
    app, clock, make_callback, fake_calls, http_client
):
    callback_id = make_callback(phone_number=number(2))
    with app.app_context():
        line = db.session.scalar(select(Line))
        db.session.add(
            CalendarOverride(line_id=line.id, day=date(2025, 3, 4), is_working_day=False)
        )
        db.session.commit()
    assert dispatch(app).claimed == []
    assert get_callback(app, callback_id).due_at == local(2025, 3, 5, 8, 30)
    assert create_requests(http_client) == []


def test_a_call_whose_paced_slot_falls_after_the_window_waits_for_the_morning(
    app, clock, make_callback, fake_calls, http_client
):
    from datetime import timedelta

    clock.move_to(local(2025, 3, 4, 19, 59, 59))
    first = make_callback(phone_number=number(1))
    second = make_callback(phone_number=number(2))

    def sleep(seconds: float) -> None:
        clock.shift(timedelta(seconds=seconds))

    report = dispatch(app, calls_per_second=0.5, sleep=sleep)
    assert len(report.placed) == 1 and report.deferred == 1
    assert get_callback(app, first).status == CallbackStatus.DIALING
    late = get_callback(app, second)
    assert late.status == CallbackStatus.PENDING and late.due_at == local(2025, 3, 5, 8, 30)
    clock.move_to(local(2025, 3, 5, 8, 30))
    assert len(dispatch(app).placed) == 1
    assert get_callback(app, second).attempts == 1, "the unplaced attempt is reused, not counted"
    assert [r.data["To"][0] for r in create_requests(http_client)] == [number(1), number(2)]
