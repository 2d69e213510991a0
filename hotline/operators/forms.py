"""Console forms (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from hotline.operators.models import Role


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("username", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


ROLE_CHOICES = [SelectChoice(r.value, r.value) for r in Role]
LANGUAGE_CHOICES = [SelectChoice("zh", "中文"), SelectChoice("en", "English")]
USERNAME = Regexp(r"^[A-Za-z0-9_.\-]+$", message="letters, digits, . _ - only")


class OperatorCreateForm(FlaskForm):
    """A new console account."""

    username = StringField("username", validators=[DataRequired(), Length(max=60), USERNAME])
    display_name = StringField("display_name", validators=[Optional(), Length(max=120)])
    role = SelectField("role", choices=ROLE_CHOICES, default=Role.OPERATOR.value)
    phone_number = StringField("phone_number", validators=[Optional(), Length(max=40)])
    console_language = SelectField("console_language", choices=LANGUAGE_CHOICES)
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


class OperatorUpdateForm(FlaskForm):
    """Role, name, phone, languages, lines and whether the account may sign in."""

    display_name = StringField("display_name", validators=[Optional(), Length(max=120)])
    role = SelectField("role", choices=ROLE_CHOICES)
    phone_number = StringField("phone_number", validators=[Optional(), Length(max=40)])
    is_active = BooleanField("is_active")
    #: "普通话, 粤语, 上海话": see parse_languages. Empty: any language.
    languages = StringField("languages", validators=[Optional(), Length(max=200)])
    #: Line ids (checkboxes; the view checks they exist). None ticked: every line.
    line_ids = SelectMultipleField("line_ids", coerce=int, validate_choice=False)


#: The callers' language codes (Call.language, from the menu choice or the caller's profile) and
#: the names an administrator may type for them; any other name is a local dialect, kept as
#: written (a caller's language matches it only when it is spelt the same).
LANGUAGE_NAMES = {
    "zh-CN": ("普通话", "Mandarin"),
    "yue-HK": ("粤语", "Cantonese"),
    "en-US": ("英语", "English"),
}
_ALIASES = {
    alias.casefold(): code
    for code, names in LANGUAGE_NAMES.items()
    for alias in (code, *names, {"zh-CN": "国语", "yue-HK": "广东话", "en-US": "英文"}[code])
}
_SEPARATORS = re.compile(r"[,，、;；/\n]+")


def parse_languages(text: str | None) -> list[str]:
    """The languages an administrator typed ("普通话, 粤语, 上海话") as stored codes
    (["zh-CN", "yue-HK", "上海话"]): known names become codes, the rest stay as written,
    duplicates dropped, order kept."""
    codes: list[str] = []
    for part in _SEPARATORS.split(text or ""):
        name = part.strip()[:32]
        if not name:
            continue
        code = _ALIASES.get(name.casefold(), name)
        if code not in codes:
            codes.append(code)
    return codes


def languages_text(codes: list | None) -> str:
    """Stored codes back as the administrator writes them: "普通话, 粤语, 上海话"."""
    return ", ".join(LANGUAGE_NAMES.get(code, (code,))[0] for code in codes or [])


class PasswordResetForm(FlaskForm):
    """A new password chosen by an admin."""

    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])
