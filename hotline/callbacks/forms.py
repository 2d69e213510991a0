"""Console forms for callbacks (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, StringField
from wtforms.validators import DataRequired, Length, Optional

from hotline.callers.forms import DayInRange


class CallNowForm(FlaskForm):
    """Make a pending callback due at once (the clock places it within seconds)."""


class RescheduleForm(FlaskForm):
    """A new due time, in the line's local time."""

    due_at = DateTimeLocalField(
        "due_at", format="%Y-%m-%dT%H:%M", validators=[DataRequired(), DayInRange()]
    )


class CancelForm(FlaskForm):
    """Canceling needs a reason (kept on the callback and shown to supervisors)."""

    reason = StringField("reason", validators=[DataRequired(), Length(max=200)])


class ScheduleForm(FlaskForm):
    """An operator promises a callback: a number, optionally a time, and why."""

    phone_number = StringField("phone_number", validators=[DataRequired(), Length(max=40)])
    due_at = DateTimeLocalField(
        "due_at", format="%Y-%m-%dT%H:%M", validators=[Optional(), DayInRange()]
    )
    note = StringField("note", validators=[Optional(), Length(max=200)])
