"""`flask --app hotline checkins ...`: enrol, list, pause, resume, stop, and run-due (the clock's
two check-in jobs once, for admins and the dev gateway). Each command is an entry point: it
commits once. The elder is named by their phone number; the line by its key (default: the only
or first active line)."""

from __future__ import annotations

import sys
from datetime import date, time

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hotline.callers.models import Caller
from hotline.checkins import cascade, schedule, service
from hotline.checkins.models import CheckinEnrolment, EnrolmentStatus
from hotline.db import db
from hotline.directory.models import Volunteer
from hotline.errors import ActionRefused
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line
from hotline.phone import mask, try_normalise
from hotline.timeutil import utcnow

checkins_cli = AppGroup("checkins", help="Check-in calls to older people living alone (关爱回访).")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _line(key: str | None) -> Line:
    query = select(Line).where(Line.is_active.is_(True)).order_by(Line.id)
    if key:
        query = select(Line).where(Line.key == key)
    line = db.session.scalars(query).first()
    if line is None:
        _fail(f"no line {key!r}" if key else "no active line")
    assert line is not None
    return line


def _caller(number: str) -> Caller:
    normalised = try_normalise(number, "CN") or number
    caller = db.session.scalar(select(Caller).where(Caller.phone_number == normalised))
    if caller is None:
        _fail(f"no caller profile for {mask(normalised)}; the elder must have called once")
    assert caller is not None
    return caller


def _enrolment(number: str, line_key: str | None) -> CheckinEnrolment:
    caller, line = _caller(number), _line(line_key)
    enrolment = service.live_enrolment(db.session, caller.id, line.id)
    if enrolment is None:
        _fail(f"{mask(caller.phone_number)} is not enrolled on line {line.key}")
    assert enrolment is not None
    return enrolment


def _time(raw: str) -> time:
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not a time like 09:00") from None


@checkins_cli.command("enrol")
@click.argument("phone")
@click.option("--line", "line_key", default=None, help="Line key (default: the first line).")
@click.option("--window", default="09:00-11:00", show_default=True, help="Local time window.")
@click.option(
    "--days",
    default="every_day",
    show_default=True,
    help="every_day, working_days, or weekdays 0-6 (0 = Monday) like 0,2,4.",
)
@click.option("--skip-holidays", is_flag=True, help="No check-in on public holidays.")
@click.option("--retries", default="20,60", show_default=True, help="Minutes between calls.")
@click.option("--volunteer", "volunteer_phone", default=None, help="The volunteer's number.")
@click.option("--no-family", is_flag=True, help="Do not text the consented family contacts.")
@click.option(
    "--consent",
    type=click.Choice(["elder_on_call", "elder_in_person", "elder_in_writing"]),
    required=True,
    help="How the elder consented.",
)
@click.option("--witness", default="", help="Who witnessed the consent.")
def enrol_command(
    phone, line_key, window, days, skip_holidays, retries, volunteer_phone, no_family, consent,
    witness,
) -> None:  # fmt: skip
    """Enrol the elder who calls from PHONE, with their recorded consent."""
    caller, line = _caller(phone), _line(line_key)
    start, _, end = window.partition("-")
    rule, chosen = days, []
    if days not in ("every_day", "working_days"):
        rule = "chosen_days"
        try:
            chosen = [int(d) for d in days.split(",") if d.strip()]
        except ValueError:
            _fail(f"--days {days!r}: use every_day, working_days or weekdays like 0,2,4")
    volunteer_id = None
    if volunteer_phone:
        number = try_normalise(volunteer_phone, "CN") or volunteer_phone
        volunteer = db.session.scalar(select(Volunteer).where(Volunteer.phone_number == number))
        if volunteer is None:
            _fail(f"no volunteer on the roster with number {mask(number)}")
        volunteer_id = volunteer.id if volunteer else None
    try:
        enrolment = service.enrol(
            db.session,
            caller_id=caller.id,
            line_id=line.id,
            window_start=_time(start),
            window_end=_time(end),
            consent_method=consent,
            consent_witness=witness,
            operator_id=None,
            calendar_rule=rule,
            days_of_week=chosen,
            skip_public_holidays=skip_holidays,
            retry_minutes=retries,
            volunteer_id=volunteer_id,
            notify_family=not no_family,
        )
    except ActionRefused as exc:
        _fail(exc.en)
        return
    db.session.commit()
    click.echo(f"enrolled {mask(caller.phone_number)} on {line.key} (enrolment {enrolment.id})")


@checkins_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Stopped enrolments too.")
def list_command(show_all: bool) -> None:
    """One line per enrolment: id, number, status, schedule, next check-in."""
    query = select(CheckinEnrolment).order_by(CheckinEnrolment.id)
    if not show_all:
        query = query.where(CheckinEnrolment.status != EnrolmentStatus.STOPPED)
    now = utcnow()
    for enrolment in db.session.scalars(query):
        caller = db.session.get(Caller, enrolment.caller_id)
        line = db.session.get(Line, enrolment.line_id)
        assert caller is not None and line is not None
        upcoming = schedule.next_due(enrolment, LineCalendar.load(db.session, line), now)
        days = (
            ",".join(str(d) for d in enrolment.days_of_week)
            if enrolment.days_of_week
            else enrolment.calendar_rule.value
        )
        click.echo(
            f"{enrolment.id}\t{mask(caller.phone_number)}\t{enrolment.status.value}\t{days}\t"
            f"{enrolment.window_start:%H:%M}-{enrolment.window_end:%H:%M}\t"
            f"next {upcoming.due_date.isoformat() if upcoming else '-'}"
        )


@checkins_cli.command("pause")
@click.argument("phone")
@click.option("--until", "until", required=True, help="Last local date without calls.")
@click.option("--reason", default="")
@click.option("--line", "line_key", default=None)
def pause_command(phone, until, reason, line_key) -> None:
    """Pause PHONE's check-ins through a date (hospital stay, travelling)."""
    enrolment = _enrolment(phone, line_key)
    try:
        service.pause(
            db.session,
            enrolment,
            until=date.fromisoformat(until),
            operator_id=None,
            reason=reason,
        )
    except (ActionRefused, ValueError) as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"paused enrolment {enrolment.id} until {until}")


@checkins_cli.command("resume")
@click.argument("phone")
@click.option("--line", "line_key", default=None)
def resume_command(phone, line_key) -> None:
    """End PHONE's pause now."""
    enrolment = _enrolment(phone, line_key)
    try:
        service.resume(db.session, enrolment, operator_id=None)
    except ActionRefused as exc:
        _fail(exc.en)
    db.session.commit()
    click.echo(f"resumed enrolment {enrolment.id}")


@checkins_cli.command("stop")
@click.argument("phone")
@click.option("--reason", default="")
@click.option("--line", "line_key", default=None)
def stop_command(phone, reason, line_key) -> None:
    """Stop PHONE's check-ins for good."""
    enrolment = _enrolment(phone, line_key)
    service.stop(db.session, enrolment, operator_id=None, reason=reason)
    db.session.commit()
    click.echo(f"stopped enrolment {enrolment.id}")


@checkins_cli.command("run-due")
def run_due_command() -> None:
    """Run the clock's check-in jobs once: open the windows due now, then retries and cascades
    (the calls themselves are placed by the clock's callback dispatcher)."""
    opened = cascade.open_due_episodes(db.session)
    steps = cascade.run_due_steps(db.session)
    db.session.commit()
    click.echo(f"opened {len(opened)} check-in(s), took {steps} cascade step(s)")
