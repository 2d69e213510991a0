"""Console forms of the caller profile, and the field helpers every console form uses
(Flask-WTF: CSRF on every form).

Every error message is bilingual: `L("中文", "English")` is resolved with `t()` when it is shown,
because the forms are defined once at import time and the language is the viewer's.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)

from hotline.callers.models import AgeBand, CallerRestriction, ConsentMethod
from hotline.i18n import t
from hotline.timeutil import console_timezone


class L:
    """A message in both languages, shown in the viewer's."""

    def __init__(self, zh: str, en: str):
        self.zh = zh
        self.en = en

    def __str__(self) -> str:
        return t(self.zh, self.en)

    def __repr__(self) -> str:
        return f"L({self.zh!r}, {self.en!r})"

    def __mod__(self, _values) -> L:
        # WTForms formats some messages with "%"; ours carry no placeholders.
        return self


REQUIRED = L("必填。", "Required.")


def too_long(limit: int) -> L:
    return L(f"最多 {limit} 个字。", f"At most {limit} characters.")


#: The dates the console accepts. Beyond them a time zone conversion or a day's end overflows
#: Python's datetime (0001-01-01 in Shanghai is before year 1 in UTC), which was a 500; no case,
#: callback, restriction or consent of this hotline lies outside these years.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2100, 12, 31)
OUT_OF_RANGE = L(
    f"日期超出范围,请填写 {EARLIEST_DAY.year} 年至 {LATEST_DAY.year} 年之间的日期。",
    f"That date is out of range; use a date from {EARLIEST_DAY.year} to {LATEST_DAY.year}.",
)


def check_day_in_range(day: date) -> None:
    """Refuse a date the console cannot compute with (ValueError with a bilingual message)."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(OUT_OF_RANGE)


class DayInRange:
    """A WTForms validator for date and datetime fields other than ours (same range)."""

    def __call__(self, form, field) -> None:
        value = field.data
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date) and not EARLIEST_DAY <= value <= LATEST_DAY:
            field.data = None
            raise StopValidation(str(OUT_OF_RANGE))


class LocalDateTimeField(StringField):
    """An <input type="datetime-local"> read in the console's time zone, stored as aware UTC."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.raw_text = raw
        if not raw:
            self.data = None
            return
        self.data = None
        for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
            try:
                local = datetime.strptime(raw, pattern)
            except ValueError:
                continue
            check_day_in_range(local.date())
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
            day = date.fromisoformat(raw)
        except ValueError:
            self.data = None
            raise ValueError(
                L("日期格式不对,请用 年-月-日。", "Not a valid date; use YYYY-MM-DD.")
            ) from None
        self.data = None
        check_day_in_range(day)
        self.data = day

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


def choice(pairs, **kwargs) -> SelectField:
    """A select field whose invalid-choice message is bilingual."""
    return SelectField(
        choices=choices(pairs),
        invalid_choice_message=L("请从列表中选择。", "Please choose from the list."),
        **kwargs,
    )


class EmptyForm(FlaskForm):
    """A button that only needs the CSRF token (close, take)."""


# --------------------------------------------------------------------------- caller search and profile


class CallerSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(validators=[Optional(), Length(max=80, message=too_long(80))])


AGE_CHOICES = [("", "")] + [(a.value, a.value) for a in AgeBand]
LANGUAGE_CHOICES = [("", ""), ("zh-CN", "zh-CN"), ("yue-HK", "yue-HK"), ("en-US", "en-US")]


class ProfileForm(FlaskForm):
    name = StringField(validators=[Optional(), Length(max=120, message=too_long(120))])
    display_name = StringField(validators=[Optional(), Length(max=60, message=too_long(60))])
    language = choice(LANGUAGE_CHOICES, validators=[Optional()])
    dialect = StringField(validators=[Optional(), Length(max=40, message=too_long(40))])
    age_band = choice(AGE_CHOICES, validators=[Optional()])
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
    requested_by = choice([("", "")], validators=[Optional()])


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
    method = choice(
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
    kind = choice(
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
