"""Opening hours with Chinese public holidays and make-up workdays, under a frozen clock."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from hotline.db import db
from hotline.lines.models import CalendarOverride, Line

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def office_hours_line(app):
    """The test line, open 08:00-20:00 on working days only."""
    with app.app_context():
        line = db.session.scalar(select(Line))
        line.is_open_every_day = False
        line.opens_at, line.closes_at = time(8, 0), time(20, 0)
        db.session.commit()
        return line.id


def _first_answer(twilio, when: datetime):
    """The first answer: the menu when open, the voicemail when closed (no prompt before)."""
    with time_machine.travel(when, tick=False):
        sid = twilio.new_call_sid()
        params = twilio.call_params(sid)
        root = ET.fromstring(twilio.post("/twilio/voice", params).get_data())
    return root


def _is_menu(root) -> bool:
    return root.find("Gather") is not None and "请按0" in "".join(root.itertext())


def _is_voicemail(root) -> bool:
    return root.find("Record") is not None


def test_weekday_morning_is_open(twilio, office_hours_line):
    assert _is_menu(_first_answer(twilio, datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI)))


def test_evening_is_closed_and_goes_to_voicemail(twilio, office_hours_line):
    root = _first_answer(twilio, datetime(2026, 3, 3, 20, 30, tzinfo=SHANGHAI))
    assert _is_voicemail(root)


def test_spring_festival_weekday_is_closed(twilio, office_hours_line):
    # Tuesday 17 February 2026 is the Spring Festival.
    root = _first_answer(twilio, datetime(2026, 2, 17, 10, 0, tzinfo=SHANGHAI))
    assert _is_voicemail(root)


def test_make_up_saturday_is_a_working_day(twilio, office_hours_line):
    # Saturday 14 February 2026 is worked in exchange for the Spring Festival break (调休).
    assert _is_menu(_first_answer(twilio, datetime(2026, 2, 14, 10, 0, tzinfo=SHANGHAI)))


def test_ordinary_sunday_is_closed(twilio, office_hours_line):
    root = _first_answer(twilio, datetime(2026, 3, 8, 10, 0, tzinfo=SHANGHAI))
    assert _is_voicemail(root)


def test_local_override_closes_a_weekday_and_opens_a_sunday(app, twilio, office_hours_line):
    with app.app_context():
        db.session.add_all(
            [
                CalendarOverride(
                    line_id=office_hours_line,
                    day=date(2026, 3, 4),
                    is_working_day=False,
                    note="local holiday",
                ),
                CalendarOverride(
                    line_id=None, day=date(2026, 3, 8), is_working_day=True, note="community day"
                ),
            ]
        )
        db.session.commit()
    assert _is_voicemail(_first_answer(twilio, datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)))
    assert _is_menu(_first_answer(twilio, datetime(2026, 3, 8, 10, 0, tzinfo=SHANGHAI)))


def test_silence_twice_when_closed_reaches_the_voicemail_not_a_hang_up(
    app, twilio, office_hours_line
):
    from hotline.ivr import engine
    from hotline.ivr.engine import CallContext, CallState, RecordAction

    scripts = app.extensions["hotline.ivr_scripts"]
    ctx = CallContext(is_open=False)
    state = CallState(language="zh-CN", node="main_menu", failures=1, steps=2)
    step = engine.handle_input(
        scripts, "main", state, ctx, node_id="main_menu", digits=None, speech=None, confidence=None
    )
    assert any(isinstance(a, RecordAction) for a in step.actions)
