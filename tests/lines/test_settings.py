"""One validation for a line's settings, shared by the console form and the CLI."""

from __future__ import annotations

from datetime import time

import pytest

from hotline.lines.models import Line
from hotline.lines.settings import from_form, parse_delays, validate_line
from tests.lines.conftest import valid_form

SCRIPTS = {"main": ["zh-CN", "en-US", "yue-HK"], "nomenu": ["zh-CN"]}


def _check(session, line=None, **changes):
    return validate_line(session, from_form(valid_form(**changes)), line=line, scripts=SCRIPTS)


def test_a_complete_form_gives_every_column(session):
    result = _check(
        session,
        mode_sat="hours",
        hours_sat="09:00-12:00",
        mode_sun="closed",
        mode_mon="all",
        quiet_hours="22:00-07:00",
    )
    assert result.ok, result.errors
    values = result.values
    assert values["phone_number"] == "+861088880000"
    assert (values["opens_at"], values["closes_at"]) == (time(8), time(20))
    assert values["weekly_hours"] == {"0": ["00:00", "00:00"], "5": ["09:00", "12:00"], "6": None}
    assert (values["callback_window_start"], values["callback_window_end"]) == (time(9), time(19))
    assert (values["quiet_hours_start"], values["quiet_hours_end"]) == (time(22), time(7))
    assert values["is_open_every_day"] is False and values["is_active"] is True


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"phone_number": "+861012345678"}, "phone_number", "another line has this number"),
        ({"phone_number": "hello"}, "phone_number", "not a phone number"),
        ({"hours_usual": "20:00-08:00"}, "hours_usual", "closes before it opens"),
        ({"mode_tue": "hours", "hours_tue": "18:00-09:00"}, "hours_tue", "closes before"),
        ({"callback_window": "09:00-09:00"}, "callback_window", "same time"),
        ({"callback_retry_delays": "2h,30m"}, "callback_retry_delays", "longer than the one"),
        ({"callback_retry_delays": "next_working_day,2h"}, "callback_retry_delays", "longer"),
        ({"callback_retry_delays": "soon"}, "callback_retry_delays", "not a delay"),
        ({"script_key": "nope"}, "script_key", "no such script"),
        ({"script_key": "nomenu", "default_language": "en-US"}, "default_language", "language"),
        ({"timezone": "Mars/Base"}, "timezone", "unknown time zone"),
        ({"max_wait_seconds": "ten"}, "max_wait_seconds", "whole number"),
        ({"offer_callback_after_seconds": "1300"}, "offer_callback_after_seconds", "wait cap"),
        ({"key": "Bad Key"}, "key", "lowercase"),
        ({"key": "main"}, "key", "another line has this key"),
        ({"quiet_hours": "late"}, "quiet_hours", "22:00-07:00"),
    ],
)
def test_bad_input_is_named_on_its_field(session, changes, field, words):
    result = _check(session, **changes)
    assert not result.ok and result.values == {}
    assert words in result.errors[field], result.errors


def test_an_update_keeps_what_it_does_not_mention_and_its_own_number(session):
    line = session.query(Line).filter_by(key="main").one()
    result = validate_line(session, {"name": "Renamed"}, line=line, scripts=SCRIPTS)
    assert result.ok, result.errors
    assert result.values["name"] == "Renamed"
    assert result.values["phone_number"] == line.phone_number  # its own number is not "taken"
    assert result.values["key"] == "main"


def test_delays_must_each_be_longer():
    assert parse_delays("30m,2h,next_working_day") == [30, 120, None]
    with pytest.raises(ValueError):
        parse_delays("30m,30m")
