"""Console forms (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("username", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])
