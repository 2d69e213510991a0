"""`flask lines ...` and `flask calendar ...`: validated like the form, non-zero on errors."""

from __future__ import annotations

import json
from datetime import date

from factories import make_operator
from sqlalchemy import select

from hotline.audit import AuditEntry
from hotline.db import db
from hotline.lines.models import CalendarOverride, Line, LineRecipient
from hotline.operators.models import Role


def _line(app, key):
    with app.app_context():
        return db.session.scalar(select(Line).where(Line.key == key))


def test_add_update_show_and_list(app, runner):
    result = runner.invoke(
        args=[
            "lines", "add", "district", "--name", "District line", "--number", "010 8888 0000",
            "--hours", "08:00-18:00", "--day-hours", "sat=09:00-12:00", "--day-hours", "sun=closed",
            "--calling-window", "09:00-17:30", "--delays", "20m,1h,next_working_day",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    line = _line(app, "district")
    assert line.phone_number == "+861088880000"
    assert line.weekly_hours == {"5": ["09:00", "12:00"], "6": None}
    result = runner.invoke(args=["lines", "update", "district", "--wait-cap", "900"])
    assert result.exit_code == 0, result.output
    assert _line(app, "district").max_wait_seconds == 900
    shown = json.loads(runner.invoke(args=["lines", "show", "district"]).output)
    assert shown["max_wait_seconds"] == "900" and shown["hours_sun"] == "closed"
    listed = runner.invoke(args=["lines", "list"]).output
    assert "district\t+861088880000\tactive" in listed
    with app.app_context():
        actions = list(
            db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "line"))
        )
    assert actions == ["created", "updated"]


def test_errors_exit_non_zero_name_each_field_and_change_nothing(app, runner):
    result = runner.invoke(
        args=["lines", "add", "x", "--name", "X", "--number", "+861012345678", "--delays", "2h,1h"]
    )
    assert result.exit_code == 1
    assert "phone_number:" in result.output and "another line has this number" in result.output
    assert "callback_retry_delays:" in result.output
    assert _line(app, "x") is None
    result = runner.invoke(args=["lines", "update", "main", "--calling-window", "10:00-10:00"])
    assert result.exit_code == 1 and "callback_window:" in result.output
    assert runner.invoke(args=["lines", "update", "nope", "--name", "Y"]).exit_code == 1


def test_recipients_and_overrides(app, runner):
    with app.app_context():
        make_operator(db.session, "boss", role=Role.SUPERVISOR, phone_number="+8613800000001")
        db.session.commit()
    result = runner.invoke(
        args=["lines", "recipients", "main", "--person", "boss=daily_summary,long_wait"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalar(select(LineRecipient))
        assert row.gets_daily_summary and row.kinds == {"long_wait"}
    bad = runner.invoke(args=["lines", "recipients", "main", "--person", "boss=everything"])
    assert bad.exit_code == 1 and "unknown kinds" in bad.output

    result = runner.invoke(
        args=["calendar", "add-override", "2027-05-06", "--line", "main", "--closed",
              "--note", "Street festival"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalar(select(CalendarOverride))
        assert (row.day, row.is_working_day, row.note) == (
            date(2027, 5, 6),
            False,
            "Street festival",
        )
    bad = runner.invoke(args=["calendar", "add-override", "6 May", "--note", "x"])
    assert bad.exit_code == 1 and "not a date" in bad.output and "--closed or --open" in bad.output
    removed = runner.invoke(args=["calendar", "remove-override", "2027-05-06", "--line", "main"])
    assert removed.exit_code == 0, removed.output
