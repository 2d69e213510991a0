"""Console forms of the case screen, search and review (the caller profile's are in
hotline.callers.forms) (Flask-WTF: CSRF on every form).

Every error message is bilingual: `L("中文", "English")` is resolved with `t()` when it is shown,
because the forms are defined once at import time and the language is the viewer's.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from hotline.callers.forms import (  # noqa: F401  (the case forms' shared vocabulary)
    REQUIRED,
    EmptyForm,
    L,
    LocalDateField,
    LocalDateTimeField,
    LocalTimeField,
    WholeNumberField,
    choice,
    choices,
    too_long,
)
from hotline.cases.models import OUTCOMES, SCENARIOS, ReferralTarget
from hotline.cases.queries import CASE_NUMBER_RE

SCENARIO_CHOICES = [(code, code) for code in SCENARIOS]
OUTCOME_CHOICES = [("", "")] + [(str(code), str(code)) for code in OUTCOMES]


# --------------------------------------------------------------------------- case screen


class ScenarioForm(FlaskForm):
    scenario = choice(SCENARIO_CHOICES, validators=[DataRequired(message=REQUIRED)])
    sub_topic = StringField(validators=[Optional(), Length(max=60, message=too_long(60))])


class SummaryForm(FlaskForm):
    summary = TextAreaField(validators=[Optional(), Length(max=5000, message=too_long(5000))])


class CallerLanguageForm(FlaskForm):
    """The caller's language or dialect as the operator heard it (empty: no correction)."""

    language = StringField(validators=[Optional(), Length(max=40, message=too_long(40))])


class NoteForm(FlaskForm):
    text = TextAreaField(
        validators=[
            DataRequired(message=L("请先写备注内容。", "Please write the note first.")),
            Length(max=5000, message=too_long(5000)),
        ]
    )


class StatusForm(FlaskForm):
    """In progress, or waiting on the caller / an agency."""

    status = choice(
        [("in_progress", "in_progress"), ("waiting", "waiting")],
        validators=[DataRequired(message=REQUIRED)],
    )
    waiting_on = choice([("", ""), ("caller", "caller"), ("agency", "agency")])


class CallbackForm(FlaskForm):
    """ "Call back at ..."."""

    due_at = LocalDateTimeField(
        validators=[
            InputRequired(message=L("请选择回电时间。", "Please choose when to call back."))
        ]
    )
    note = StringField(validators=[Optional(), Length(max=200, message=too_long(200))])


class FollowUpForm(FlaskForm):
    """回访 date (empty clears it)."""

    follow_up_at = LocalDateTimeField(validators=[Optional()])


class ReferralForm(FlaskForm):
    """A volunteer picked from the roster, an agency from the directory, or (for someone in
    neither) a typed kind, name and number."""

    volunteer_id = WholeNumberField(validators=[Optional()])
    agency_id = WholeNumberField(validators=[Optional()])
    target_kind = choice(
        [(k.value, k.value) for k in ReferralTarget], validators=[DataRequired(message=REQUIRED)]
    )
    target_name = StringField(validators=[Optional(), Length(max=120, message=too_long(120))])
    target_number = StringField(validators=[Optional(), Length(max=40, message=too_long(40))])
    reason = TextAreaField(
        validators=[
            DataRequired(message=L("请写明转介原因。", "Please say why.")),
            Length(max=2000, message=too_long(2000)),
        ]
    )


class ReferralResponseForm(FlaskForm):
    response = choice(
        [("accepted", "accepted"), ("declined", "declined")],
        validators=[DataRequired(message=REQUIRED)],
    )
    response_text = StringField(validators=[Optional(), Length(max=500, message=too_long(500))])


class EscalateForm(FlaskForm):
    reason = TextAreaField(
        validators=[
            DataRequired(message=L("上报需要写明原因。", "An escalation needs a reason.")),
            Length(max=2000, message=too_long(2000)),
        ]
    )
    is_urgent = BooleanField()


class ResolveForm(FlaskForm):
    outcome = choice(
        OUTCOME_CHOICES,
        validators=[DataRequired(message=L("请选择处理结果。", "Please choose an outcome."))],
    )
    note = TextAreaField(validators=[Optional(), Length(max=2000, message=too_long(2000))])


class ReopenForm(FlaskForm):
    reason = StringField(validators=[Optional(), Length(max=500, message=too_long(500))])


class AssignEscalationForm(FlaskForm):
    assignee_id = choice([], coerce=str)
    deadline_at = LocalDateTimeField(validators=[Optional()])


# --------------------------------------------------------------------------- search


class CaseSearchForm(FlaskForm):
    """The case list's filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(validators=[Optional(), Length(max=80, message=too_long(80))])
    scenario = choice([("", "")] + SCENARIO_CHOICES, validators=[Optional()])
    status = choice(
        [
            ("", ""),
            *[
                (s, s)
                for s in ("open", "in_progress", "waiting", "escalated", "resolved", "closed")
            ],
        ],
        validators=[Optional()],
    )
    operator = choice([("", "")], validators=[Optional()])
    date_from = LocalDateField(validators=[Optional()])
    date_to = LocalDateField(validators=[Optional()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            from wtforms.validators import ValidationError

            raise ValidationError(
                L("结束日期不能早于开始日期。", "The end date is before the start date.")
            )


class ReviewForm(FlaskForm):
    class Meta:
        csrf = False

    date_from = LocalDateField(validators=[Optional()])
    date_to = LocalDateField(validators=[Optional()])


def is_case_number(text: str) -> bool:
    return bool(CASE_NUMBER_RE.match((text or "").strip()))


class HiddenNextForm(FlaskForm):
    next = HiddenField()
