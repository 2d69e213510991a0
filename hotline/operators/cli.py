"""`flask --app hotline operators create|reset-password|list`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hotline.db import db
from hotline.operators.auth import MIN_PASSWORD_LENGTH, end_sessions, hash_password
from hotline.operators.models import Operator, Role
from hotline.phone import InvalidNumber, normalise

operators_cli = AppGroup("operators", help="Console accounts.")


def _password(value: str | None) -> str:
    password = value or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"needs at least {MIN_PASSWORD_LENGTH} characters", param_hint="password"
        )
    return password


@operators_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.OPERATOR.value)
@click.option("--name", "display_name", default="", help="Name shown in the console.")
@click.option("--phone", default=None, help="The operator's phone, rung to join callers.")
@click.option("--password", default=None, help="Prompted for when not given.")
def create(
    username: str, role: str, display_name: str, phone: str | None, password: str | None
) -> None:
    """Create a console account (e.g. the first admin: --role admin)."""
    if db.session.scalar(select(Operator).where(Operator.username == username)):
        raise click.ClickException(f"an account named {username!r} already exists")
    number = None
    if phone:
        try:
            number = normalise(phone)
        except InvalidNumber as exc:
            raise click.BadParameter(str(exc), param_hint="--phone") from exc
    db.session.add(
        Operator(
            username=username,
            display_name=display_name or username,
            role=Role(role),
            phone_number=number,
            password_hash=hash_password(_password(password)),
        )
    )
    db.session.commit()
    click.echo(f"created {role} {username!r}")


@operators_cli.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="Prompted for when not given.")
def reset_password(username: str, password: str | None) -> None:
    """Set a new password for USERNAME."""
    operator = db.session.scalar(select(Operator).where(Operator.username == username))
    if operator is None:
        raise click.ClickException(f"no account named {username!r}")
    operator.password_hash = hash_password(_password(password))
    end_sessions(operator)  # signed out everywhere
    db.session.commit()
    click.echo(f"password reset for {username!r}")


@operators_cli.command("list")
def list_operators() -> None:
    """List console accounts."""
    for op in db.session.scalars(select(Operator).order_by(Operator.username)):
        state = "active" if op.is_active else "disabled"
        click.echo(f"{op.username}\t{op.role.value}\t{op.presence.value}\t{state}")
