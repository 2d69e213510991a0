"""Console forms (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
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
    """Role, name, phone and whether the account may sign in."""

    display_name = StringField("display_name", validators=[Optional(), Length(max=120)])
    role = SelectField("role", choices=ROLE_CHOICES)
    phone_number = StringField("phone_number", validators=[Optional(), Length(max=40)])
    is_active = BooleanField("is_active")


class PasswordResetForm(FlaskForm):
    """A new password chosen by an admin."""

    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])
