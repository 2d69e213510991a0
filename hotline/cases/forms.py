"""Console forms of the case screen and the caller profile (Flask-WTF: CSRF on every form).

Every error message is bilingual: `L("中文", "English")` is resolved with `t()` when it is shown,
because the forms are defined once at import time and the language is the viewer's.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from hotline.callers.models import AgeBand, CallerRestriction, ConsentMethod
from hotline.cases.lifecycle import console_timezone
from hotline.cases.models import OUTCOMES, SCENARIOS, ReferralTarget
from hotline.cases.queries import CASE_NUMBER_RE


class L:
    """A message in both languages, shown in the viewer's."""

    def __init__(self, zh: str, en: str):
        self.zh = zh
        self.en = en

    def __str__(self) -> str:
        from hotline.i18n import t

        return t(self.zh, self.en)

    def __repr__(self) -> str:
        return f"L({self.zh!r}, {self.en!r})"

    def __mod__(self, _values) -> L:
        # WTForms formats some messages with "%"; ours carry no placeholders.
        return self


REQUIRED = L("必填。", "Required.")


def too_long(limit: int) -> L:
    return L(f"最多 {limit} 个字。", f"At most {limit} characters.")


class LocalDateTimeField(StringField):
    """An <input type="datetime-local"> read in the console's time zone, stored as aware UTC."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.raw_text = raw
        if not raw:
            self.data = None
            return
        for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
            try:
                local = datetime.strptime(raw, pattern)
            except ValueError:
                continue
            self.data = local.replace(tzinfo=console_timezone())
            return
        self.data = None
        raise ValueError(
            L("时间格式不对,请用 年-月-日 时:分。", "Not a valid time; use YYYY-MM-DD HH:MM.")
        )

    def _value(self) -> str:
        if isinstance(self.data, datetime):
            return self.data.astimezone(console_timezone()).strftime("%Y-%m-%dT%H:%M")
        return getattr(self, "raw_text", "") or ""


class LocalDateField(StringField):
    """An <input type="date">."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.raw_text = raw
        if not raw:
            self.data = None
            return
        try:
            self.data = date.fromisoformat(raw)
        except ValueError:
            self.data = None
            raise ValueError(
                L("日期格式不对,请用 年-月-日。", "Not a valid date; use YYYY-MM-DD.")
            ) from None

    def _value(self) -> str:
        if isinstance(self.data, date):
            return self.data.isoformat()
        return getattr(self, "raw_text", "") or ""


class LocalTimeField(StringField):
    """An <input type="time">."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.raw_text = raw
        if not raw:
            self.data = None
            return
        try:
            self.data = time.fromisoformat(raw)
        except ValueError:
            self.data = None
            raise ValueError(
                L("时间格式不对,请用 时:分。", "Not a valid time; use HH:MM.")
            ) from None

    def _value(self) -> str:
        if isinstance(self.data, time):
            return self.data.strftime("%H:%M")
        return getattr(self, "raw_text", "") or ""


class WholeNumberField(IntegerField):
    """An integer field with a bilingual parse error."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        if not raw:
            self.data = None
            return
        try:
            self.data = int(raw)
        except ValueError:
            self.data = None
            raise ValueError(L("请输入整数。", "Please enter a whole number.")) from None


try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None


def choices(pairs) -> list:
    """Select options from (value, label) pairs, in the form this WTForms version wants."""
    if SelectChoice is None:  # pragma: no cover
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


def _choice(pairs, **kwargs) -> SelectField:
    return SelectField(
        choices=choices(pairs),
        invalid_choice_message=L("请从列表中选择。", "Please choose from the list."),
        **kwargs,
    )


SCENARIO_CHOICES = [(code, code) for code in SCENARIOS]
OUTCOME_CHOICES = [("", "")] + [(str(code), str(code)) for code in OUTCOMES]


# --------------------------------------------------------------------------- case screen


class ScenarioForm(FlaskForm):
    scenario = _choice(SCENARIO_CHOICES, validators=[DataRequired(message=REQUIRED)])
    sub_topic = StringField(validators=[Optional(), Length(max=60, message=too_long(60))])


class SummaryForm(FlaskForm):
    summary = TextAreaField(validators=[Optional(), Length(max=5000, message=too_long(5000))])


class NoteForm(FlaskForm):
    text = TextAreaField(
        validators=[
            DataRequired(message=L("请先写备注内容。", "Please write the note first.")),
            Length(max=5000, message=too_long(5000)),
        ]
    )


class StatusForm(FlaskForm):
    """In progress, or waiting on the caller / an agency."""

    status = _choice(
        [("in_progress", "in_progress"), ("waiting", "waiting")],
        validators=[DataRequired(message=REQUIRED)],
    )
    waiting_on = _choice([("", ""), ("caller", "caller"), ("agency", "agency")])


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
    target_kind = _choice(
        [(k.value, k.value) for k in ReferralTarget], validators=[DataRequired(message=REQUIRED)]
    )
    target_name = StringField(
        validators=[
            DataRequired(message=L("请填写转介对象。", "Please name who the case goes to.")),
            Length(max=120, message=too_long(120)),
        ]
    )
    target_number = StringField(validators=[Optional(), Length(max=40, message=too_long(40))])
    reason = TextAreaField(
        validators=[
            DataRequired(message=L("请写明转介原因。", "Please say why.")),
            Length(max=2000, message=too_long(2000)),
        ]
    )


class ReferralResponseForm(FlaskForm):
    response = _choice(
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
    outcome = _choice(
        OUTCOME_CHOICES,
        validators=[DataRequired(message=L("请选择处理结果。", "Please choose an outcome."))],
    )
    note = TextAreaField(validators=[Optional(), Length(max=2000, message=too_long(2000))])


class ReopenForm(FlaskForm):
    reason = StringField(validators=[Optional(), Length(max=500, message=too_long(500))])


class EmptyForm(FlaskForm):
    """A button that only needs the CSRF token (close, take)."""


class AssignEscalationForm(FlaskForm):
    assignee_id = _choice([], coerce=str)
    deadline_at = LocalDateTimeField(validators=[Optional()])


# --------------------------------------------------------------------------- search


class CaseSearchForm(FlaskForm):
    """The case list's filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(validators=[Optional(), Length(max=80, message=too_long(80))])
    scenario = _choice([("", "")] + SCENARIO_CHOICES, validators=[Optional()])
    status = _choice(
        [
            ("", ""),
            *[
                (s, s)
                for s in ("open", "in_progress", "waiting", "escalated", "resolved", "closed")
            ],
        ],
        validators=[Optional()],
    )
    operator = _choice([("", "")], validators=[Optional()])
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


class CallerSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(validators=[Optional(), Length(max=80, message=too_long(80))])


def is_case_number(text: str) -> bool:
    return bool(CASE_NUMBER_RE.match((text or "").strip()))


# --------------------------------------------------------------------------- caller profile


AGE_CHOICES = [("", "")] + [(a.value, a.value) for a in AgeBand]
LANGUAGE_CHOICES = [("", ""), ("zh-CN", "zh-CN"), ("yue-HK", "yue-HK"), ("en-US", "en-US")]


class ProfileForm(FlaskForm):
    name = StringField(validators=[Optional(), Length(max=120, message=too_long(120))])
    display_name = StringField(validators=[Optional(), Length(max=60, message=too_long(60))])
    language = _choice(LANGUAGE_CHOICES, validators=[Optional()])
    dialect = StringField(validators=[Optional(), Length(max=40, message=too_long(40))])
    age_band = _choice(AGE_CHOICES, validators=[Optional()])
    district = StringField(validators=[Optional(), Length(max=80, message=too_long(80))])
    is_older_caller = BooleanField()
    is_straight_to_person = BooleanField()
    is_hard_of_hearing = BooleanField()
    speech_rate_percent = WholeNumberField(
        validators=[
            Optional(),
            NumberRange(50, 120, message=L("语速应在 50 到 120 之间。", "Between 50 and 120.")),
        ]
    )
    input_timeout_seconds = WholeNumberField(
        validators=[
            Optional(),
            NumberRange(5, 30, message=L("应在 5 到 30 秒之间。", "Between 5 and 30 seconds.")),
        ]
    )
    callback_window_start = LocalTimeField(validators=[Optional()])
    callback_window_end = LocalTimeField(validators=[Optional()])
    notes = TextAreaField(validators=[Optional(), Length(max=5000, message=too_long(5000))])
    #: "" (the caller or the operator) or a family contact id who asked for the change.
    requested_by = _choice([("", "")], validators=[Optional()])


class FamilyContactForm(FlaskForm):
    name = StringField(
        validators=[
            DataRequired(message=L("请填写家人的姓名。", "Please enter the name.")),
            Length(max=120, message=too_long(120)),
        ]
    )
    relation = StringField(validators=[Optional(), Length(max=40, message=too_long(40))])
    phone_number = StringField(
        validators=[
            DataRequired(message=L("请填写电话号码。", "Please enter the phone number.")),
            Length(max=40, message=too_long(40)),
        ]
    )
    may_receive_alerts = BooleanField()
    may_request_callbacks = BooleanField()
    may_change_profile = BooleanField()


class ConsentForm(FlaskForm):
    method = _choice(
        [("", "")] + [(m.value, m.value) for m in ConsentMethod],
        validators=[
            DataRequired(message=L("请选择老人表示同意的方式。", "Choose how the elder consented."))
        ],
    )
    consented_at = LocalDateTimeField(validators=[Optional()])


class PermissionsForm(FlaskForm):
    may_receive_alerts = BooleanField()
    may_request_callbacks = BooleanField()
    may_change_profile = BooleanField()


class RestrictionForm(FlaskForm):
    kind = _choice(
        [("", "")] + [(r.value, r.value) for r in CallerRestriction],
        validators=[DataRequired(message=L("请选择标记类型。", "Choose the kind of flag."))],
    )
    reason = StringField(
        validators=[
            DataRequired(message=L("请写明原因。", "Please give the reason.")),
            Length(max=300, message=too_long(300)),
        ]
    )
    until = LocalDateTimeField(
        validators=[InputRequired(message=L("请选择到期时间。", "Please choose the expiry."))]
    )


class MergeForm(FlaskForm):
    other = StringField(
        validators=[
            DataRequired(
                message=L("请填写要合并的另一个号码。", "Enter the other profile's number.")
            ),
            Length(max=40, message=too_long(40)),
        ]
    )


class EraseForm(FlaskForm):
    confirm = StringField(
        validators=[DataRequired(message=L("请输入 ERASE 确认。", "Type ERASE to confirm."))]
    )


class HiddenNextForm(FlaskForm):
    next = HiddenField()
