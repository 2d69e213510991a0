"""`flask lines add|update|show|list|recipients` and `flask calendar add-override|remove-override`:
scripted set-up, validated exactly like the console's forms (hotline.lines.settings).

Each command is an entry point: it commits once, or exits 1 listing every error and changing
nothing.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from hotline.db import db
from hotline.lines import service
from hotline.lines.models import CalendarOverride, Line, LineRecipient
from hotline.lines.settings import WEEKDAYS, current_text, script_choices, validate_line
from hotline.operators.models import Operator, Role
from hotline.sms.models import AlertKind

lines_cli = AppGroup("lines", help="Hotline lines: number, scripts, hours, thresholds.")
calendar_cli = AppGroup("calendar", help="Local calendar overrides (days closed or open).")

_ACTOR = "cli"


def _line_options(command):
    """The options `lines add` and `lines update` share: one per validated field."""
    options = [
        click.option("--name"),
        click.option("--number", "phone_number", help="E.164, e.g. +861012345678."),
        click.option("--script", "script_key", help="Script key in ivr_scripts/ (main, nomenu)."),
        click.option("--language", "default_language", help="zh-CN, yue-HK or en-US."),
        click.option("--timezone"),
        click.option("--hours", "hours_usual", help='Usual hours "08:00-20:00", or "all".'),
        click.option(
            "--day-hours",
            "day_hours",
            multiple=True,
            help='One weekday, e.g. "sat=09:00-12:00", "sun=closed", "mon=all", "mon=" (usual).',
        ),
        click.option("--open-days", type=click.Choice(["working", "every"])),
        click.option("--calling-window", "callback_window", help='e.g. "08:30-20:00".'),
        click.option("--offer-callback-after", "offer_callback_after_seconds"),
        click.option("--wait-cap", "max_wait_seconds"),
        click.option("--abandon-after", "abandon_callback_after_seconds"),
        click.option("--service-level", "service_level_seconds"),
        click.option("--wrap-up", "wrap_up_seconds", help="Seconds of wrap-up after a call."),
        click.option("--attempts", "callback_max_attempts"),
        click.option("--delays", "callback_retry_delays", help='e.g. "30m,2h,next_working_day".'),
        click.option("--quiet-hours", "quiet_hours", help='e.g. "22:00-07:00"; "" for none.'),
        click.option("--active", "is_active", type=click.Choice(["yes", "no"])),
        click.option(
            "--recording",
            "is_recording_enabled",
            type=click.Choice(["yes", "no"]),
            help="Record conversations with operators (the greeting tells callers).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _raw(options: dict) -> dict[str, str]:
    day_hours = options.pop("day_hours", ()) or ()
    raw = {k: v for k, v in options.items() if v is not None}
    for item in day_hours:
        day, _, hours = item.partition("=")
        day = day.strip().lower()[:3]
        if day not in WEEKDAYS:
            raise click.BadParameter(f"{item!r}: start with mon..sun", param_hint="--day-hours")
        raw[f"hours_{day}"] = hours.strip()
    return raw


def _save(line: Line | None, raw: dict[str, str]) -> Line:
    result = validate_line(
        db.session,
        raw,
        line=line,
        scripts=script_choices(current_app.config["IVR_SCRIPTS_DIR"]),
        region=current_app.config.get("DEFAULT_REGION", "CN"),
    )
    if not result.ok:
        for name, error in result.errors.items():
            click.echo(f"{name}: {error}", err=True)
        db.session.rollback()
        sys.exit(1)
    saved = service.save_line(db.session, line, result.values, operator_id=None, actor=_ACTOR)
    db.session.commit()
    return saved


def _find(key: str) -> Line:
    line = db.session.scalar(select(Line).where(Line.key == key))
    if line is None:
        click.echo(f"no line {key!r} (see `flask lines list`)", err=True)
        sys.exit(1)
    return line


@lines_cli.command("add")
@click.argument("key")
@_line_options
def lines_add(key: str, **options) -> None:
    """Create line KEY (name and --number are required; the rest have defaults)."""
    line = _save(None, {"key": key, **_raw(options)})
    click.echo(f"created line {line.key} ({line.phone_number})")


@lines_cli.command("update")
@click.argument("key")
@_line_options
def lines_update(key: str, **options) -> None:
    """Change line KEY: only the options given change."""
    line = _save(_find(key), _raw(options))
    click.echo(f"updated line {line.key}")


@lines_cli.command("show")
@click.argument("key")
def lines_show(key: str) -> None:
    """Print line KEY's settings as JSON (the same fields `add` and `update` take)."""
    line = _find(key)
    shown = current_text(line)
    shown["recipients"] = {
        op.username: sorted((["daily_summary"] if r.gets_daily_summary else []) + sorted(r.kinds))
        for r, op in db.session.execute(
            select(LineRecipient, Operator)
            .join(Operator, Operator.id == LineRecipient.operator_id)
            .where(LineRecipient.line_id == line.id)
        )
    }
    click.echo(json.dumps(shown, ensure_ascii=False, indent=2))


@lines_cli.command("list")
def lines_list() -> None:
    """One line per line: key, number, state, name."""
    for line in db.session.scalars(select(Line).order_by(Line.id)):
        state = "active" if line.is_active else "inactive"
        click.echo(f"{line.key}\t{line.phone_number}\t{state}\t{line.name}")


@lines_cli.command("recipients")
@click.argument("key")
@click.option(
    "--person",
    "people",
    multiple=True,
    help="USERNAME=daily_summary,long_wait,... (AlertKind values); repeat per person.",
)
def lines_recipients(key: str, people: tuple[str, ...]) -> None:
    """Set who is told about line KEY (replaces the list; none: everyone with a phone)."""
    line = _find(key)
    kinds = {k.value for k in AlertKind}
    wanted: dict[int, tuple[bool, set[str]]] = {}
    errors = []
    for item in people:
        username, _, what = item.partition("=")
        op = db.session.scalar(select(Operator).where(Operator.username == username.strip()))
        chosen = {w.strip() for w in what.split(",") if w.strip()}
        if op is None or op.role not in (Role.SUPERVISOR, Role.ADMIN):
            errors.append(f"{username}: no supervisor or admin with this username")
        elif chosen - kinds - {"daily_summary"}:
            errors.append(f"{username}: unknown kinds {sorted(chosen - kinds - {'daily_summary'})}")
        else:
            wanted[op.id] = ("daily_summary" in chosen, chosen & kinds)
    if errors:
        for error in errors:
            click.echo(error, err=True)
        sys.exit(1)
    service.set_recipients(db.session, line, wanted, operator_id=None, actor=_ACTOR)
    db.session.commit()
    click.echo(f"{len(wanted)} recipient(s) for line {line.key}")


@calendar_cli.command("add-override")
@click.argument("day")
@click.option("--line", "line_key", default=None, help="Line key (default: every line).")
@click.option("--closed", "state", flag_value="closed", help="The line is closed that day.")
@click.option("--open", "state", flag_value="open", help="The line is open that day.")
@click.option("--note", required=True, help="Why (shown in the calendar).")
def calendar_add_override(day: str, line_key: str | None, state: str | None, note: str) -> None:
    """Close a line on DAY (YYYY-MM-DD), or open it on a holiday."""
    errors = []
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        errors.append(f"day: {day!r} is not a date like 2027-01-01")
    if state is None:
        errors.append("state: say --closed or --open")
    if not note.strip():
        errors.append("note: say why")
    if errors:
        for error in errors:
            click.echo(error, err=True)
        sys.exit(1)
    line = _find(line_key) if line_key else None
    service.add_override(
        db.session,
        line=line,
        day=parsed,
        is_working_day=state == "open",
        note=note,
        operator_id=None,
        actor=_ACTOR,
    )
    db.session.commit()
    click.echo(f"{parsed}: {state} for {line.key if line else 'every line'}")


@calendar_cli.command("remove-override")
@click.argument("day")
@click.option("--line", "line_key", default=None, help="Line key (default: every line).")
def calendar_remove_override(day: str, line_key: str | None) -> None:
    """Remove the override on DAY (the national calendar applies again)."""
    line = _find(line_key) if line_key else None
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        click.echo(f"day: {day!r} is not a date like 2027-01-01", err=True)
        sys.exit(1)
    row = db.session.scalar(
        select(CalendarOverride).where(
            CalendarOverride.day == parsed,
            CalendarOverride.line_id.is_(None)
            if line is None
            else CalendarOverride.line_id == line.id,
        )
    )
    if row is None:
        click.echo(f"no override on {day}", err=True)
        sys.exit(1)
    service.remove_override(db.session, row, operator_id=None, actor=_ACTOR)
    db.session.commit()
    click.echo(f"removed the override on {day}")
