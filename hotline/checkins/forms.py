"""Console forms of the check-in programme: enrol, pause (with an end date), resume, stop,
and the report's period (Flask-WTF: CSRF on every form that changes something).

Messages are bilingual (`L`), like every console form; the domain rules themselves (a window
that ends before it starts, a retry policy, a consent in the future) are the enrolment
service's, and the view shows its refusal next to the field it concerns.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from hotline.callers.forms import (
    REQUIRED,
    EmptyForm,
    L,
    LocalDateField,
    LocalDateTimeField,
    LocalTimeField,
    choice,
    choices,
    too_long,
)
from hotline.callers.models import ConsentMethod
from hotline.checkins.models import CalendarRule
from hotline.checkins.queries import GROUPINGS
from hotline.checkins.service import parse_retry_minutes
from hotline.errors import InvalidInput

__all__ = [
    "CloseEpisodeForm",
    "EmptyForm",
    "EnrolForm",
    "PauseForm",
    "ScheduleForm",
    "ReportForm",
    "StopForm",
    "choices",
]

#: The weekdays as the form offers them: 0 = Monday ... 6 = Sunday.
WEEKDAYS = [
    ("0", "周一", "Mon"),
    ("1", "周二", "Tue"),
    ("2", "周三", "Wed"),
    ("3", "周四", "Thu"),
    ("4", "周五", "Fri"),
    ("5", "周六", "Sat"),
    ("6", "周日", "Sun"),
]
#: The calendar rules in words.
CALENDAR_RULES = [
    (CalendarRule.EVERY_DAY.value, "每天", "Every day"),
    (
        CalendarRule.WORKING_DAYS.value,
        "工作日(按法定节假日和调休)",
        "Working days (public holidays and make-up days)",
    ),
    (CalendarRule.CHOSEN_DAYS.value, "选定的星期几", "Chosen days of the week"),
]
#: How the elder consented, in words.
CONSENT_METHODS = [
    (ConsentMethod.ELDER_ON_CALL.value, "老人在通话中同意", "The elder said so on a call"),
    (ConsentMethod.ELDER_IN_PERSON.value, "老人当面同意", "The elder in person"),
    (ConsentMethod.ELDER_IN_WRITING.value, "老人书面同意", "The elder in writing"),
]


class MultiCheckboxField(SelectMultipleField):
    """Several checkboxes, one per choice; a value not offered is refused in both languages."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "invalid_choice_message", L("请从列表中选择。", "Please choose from the list.")
        )
        kwargs.setdefault(
            "invalid_value_message", L("请从列表中选择。", "Please choose from the list.")
        )
        super().__init__(*args, **kwargs)


class RetryPolicy:
    """The enrolment service's rule for retries ("20,60"), as a field error."""

    def __call__(self, form, field) -> None:
        try:
            field.data = parse_retry_minutes(field.data or "")
        except InvalidInput as exc:
            raise ValidationError(L(exc.zh, exc.en)) from None


class ScheduleForm(FlaskForm):
    """The schedule, retries, volunteer and family of an enrolment (also to change them)."""

    calendar_rule = choice(
        [(value, value) for value, _zh, _en in CALENDAR_RULES],
        default=CalendarRule.EVERY_DAY.value,
        validators=[DataRequired(message=REQUIRED)],
    )
    days_of_week = MultiCheckboxField(
        choices=choices([(value, value) for value, _zh, _en in WEEKDAYS]),
    )
    skip_public_holidays = BooleanField()
    window_start = LocalTimeField(
        validators=[
            InputRequired(message=L("请填写回访时段的开始时间。", "Enter when the window starts."))
        ]
    )
    window_end = LocalTimeField(
        validators=[
            InputRequired(message=L("请填写回访时段的结束时间。", "Enter when the window ends."))
        ]
    )
    retry_minutes = StringField(
        default="20,60",
        validators=[Length(max=40, message=too_long(40)), RetryPolicy()],
    )
    volunteer_id = choice(
        [],
        validators=[
            DataRequired(
                message=L(
                    "请从名册中选择负责探访的志愿者。",
                    "Choose the volunteer who looks after this elder from the roster.",
                )
            )
        ],
    )
    #: The family contacts to tell (ids; the choices are the elder's consented ones).
    family_contact_ids = MultiCheckboxField(choices=[])

    def validate_days_of_week(self, field) -> None:
        if self.calendar_rule.data == CalendarRule.CHOSEN_DAYS.value and not field.data:
            raise ValidationError(L("请至少选择一天。", "Choose at least one day of the week."))

    def validate_window_end(self, field) -> None:
        start = self.window_start.data
        if start is not None and field.data is not None and field.data <= start:
            raise ValidationError(
                L("结束时间须晚于开始时间。", "The window must end after it starts.")
            )


class EnrolForm(ScheduleForm):
    """Enrol an elder: the line, the schedule and the rest, and the elder's consent."""

    line_id = choice([], validators=[DataRequired(message=REQUIRED)])
    consented_at = LocalDateTimeField(
        validators=[
            InputRequired(
                message=L("请填写老人同意的日期和时间。", "Enter when the elder consented.")
            )
        ]
    )
    consent_method = choice(
        [("", "")] + [(value, value) for value, _zh, _en in CONSENT_METHODS],
        validators=[
            DataRequired(message=L("请选择老人表示同意的方式。", "Choose how the elder consented."))
        ],
    )
    consent_witness = StringField(
        validators=[
            DataRequired(
                message=L(
                    "请填写见证人(谁在场听到老人同意)。",
                    "Enter the witness (who heard the elder consent).",
                )
            ),
            Length(max=120, message=too_long(120)),
        ]
    )
    notes = TextAreaField(validators=[Optional(), Length(max=2000, message=too_long(2000))])


class PauseForm(FlaskForm):
    """Pause through a date (hospital stay, travelling); calls resume the day after."""

    until = LocalDateField(
        validators=[
            InputRequired(message=L("请填写暂停到哪一天。", "Enter the last day of the pause."))
        ]
    )
    reason = StringField(validators=[Optional(), Length(max=200, message=too_long(200))])


class StopForm(FlaskForm):
    """Stop for good (the elder withdrew, moved away, died)."""

    reason = StringField(
        validators=[
            DataRequired(message=L("请写明停止的原因。", "Please give the reason.")),
            Length(max=200, message=too_long(200)),
        ]
    )


class CloseEpisodeForm(FlaskForm):
    """An operator reached the elder themselves (or also could not): closes a missed day."""

    reached = choice([("1", "1"), ("0", "0")], validators=[DataRequired(message=REQUIRED)])


class ReportForm(FlaskForm):
    """The report's period and grouping (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    date_from = LocalDateField(validators=[Optional()])
    date_to = LocalDateField(validators=[Optional()])
    by = choice([(g, g) for g in GROUPINGS], default="district", validators=[Optional()])
