"""`flask --app hotline checkins ...`: enrol, change, list, pause, resume, stop, and run-due (the
clock's two check-in jobs once, for admins and the dev gateway). Each command is an entry point:
it commits once, and its changes are audited with the actor "cli". The elder is named by their
phone number, volunteers and family contacts by theirs; the line by its key (default: the only
or first active line)."""

from __future__ import annotations

import sys
from datetime import date, time

import click
from flask.cli import AppGroup
from sqlalchemy import select

from hotline import audit
from hotline.callers.models import Caller
from hotline.checkins import cascade, schedule, service
from hotline.checkins.models import CheckinEnrolment, EnrolmentStatus
from hotline.db import db
from hotline.directory.models import Volunteer
from hotline.errors import ActionRefused, InvalidInput
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line
from hotline.phone import mask, try_normalise
from hotline.timeutil import utcnow

#: Who the audit trail says made a change from the command line.
_ACTOR = "cli"

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


def _window(raw: str) -> tuple[time, time]:
    start, _, end = raw.partition("-")
    return _time(start.strip()), _time(end.strip())


def _days(raw: str) -> tuple[str, list[int]]:
    """The calendar rule and chosen weekdays from `--days`."""
    if raw in ("every_day", "working_days"):
        return raw, []
    try:
        return "chosen_days", [int(d) for d in raw.split(",") if d.strip()]
    except ValueError:
        _fail(f"--days {raw!r}: use every_day, working_days or weekdays like 0,2,4")
        raise AssertionError from None  # _fail exits


def _volunteer_id(raw: str) -> int:
    number = try_normalise(raw, "CN") or raw
    volunteer = db.session.scalar(select(Volunteer).where(Volunteer.phone_number == number))
    if volunteer is None:
        _fail(f"no volunteer on the roster with number {mask(number)}")
    assert volunteer is not None
    return volunteer.id


def _family_ids(caller: Caller, numbers: tuple[str, ...]) -> list[int]:
    """The family contacts named by `--family`, or exit with what to do."""
    try:
        return service.family_contacts_by_number(db.session, caller.id, numbers)
    except InvalidInput as exc:
        _fail(exc.en)
        raise AssertionError from None  # _fail exits


_DAYS_HELP = "every_day, working_days, or weekdays 0-6 (0 = Monday) like 0,2,4."
_FAMILY_HELP = (
    "The number of a family contact to text when the elder cannot be reached (repeatable); "
    "each must be one of the elder's family contacts with recorded consent to alerts."
)


@checkins_cli.command("enrol")
@click.argument("phone")
@click.option("--line", "line_key", default=None, help="Line key (default: the first line).")
@click.option("--window", default="09:00-11:00", show_default=True, help="Local time window.")
@click.option("--days", default="every_day", show_default=True, help=_DAYS_HELP)
@click.option("--skip-holidays", is_flag=True, help="No check-in on public holidays.")
@click.option("--retries", default="20,60", show_default=True, help="Minutes between calls.")
@click.option("--volunteer", "volunteer_phone", default=None, help="The volunteer's number.")
@click.option("--family", "family_numbers", multiple=True, help=_FAMILY_HELP + " Default: all.")
@click.option("--no-family", is_flag=True, help="Do not text the consented family contacts.")
@click.option(
    "--consent",
    type=click.Choice(["elder_on_call", "elder_in_person", "elder_in_writing"]),
    required=True,
    help="How the elder consented.",
)
@click.option("--witness", default="", help="Who witnessed the consent.")
def enrol_command(
    phone, line_key, window, days, skip_holidays, retries, volunteer_phone, family_numbers,
    no_family, consent, witness,
) -> None:  # fmt: skip
    """Enrol the elder who calls from PHONE, with their recorded consent."""
    caller, line = _caller(phone), _line(line_key)
    if family_numbers and no_family:
        _fail("--family and --no-family contradict each other; give one of them")
    window_start, window_end = _window(window)
    rule, chosen = _days(days)
    volunteer_id = _volunteer_id(volunteer_phone) if volunteer_phone else None
    family_ids = _family_ids(caller, family_numbers) if family_numbers else None
    try:
        enrolment = service.enrol(
            db.session,
            caller_id=caller.id,
            line_id=line.id,
            window_start=window_start,
            window_end=window_end,
            consent_method=consent,
            consent_witness=witness,
            operator_id=None,
            calendar_rule=rule,
            days_of_week=chosen,
            skip_public_holidays=skip_holidays,
            retry_minutes=retries,
            volunteer_id=volunteer_id,
            notify_family=not no_family,
            family_contact_ids=family_ids,
            actor=_ACTOR,
        )
    except ActionRefused as exc:
        _fail(exc.en)
        return
    db.session.commit()
    click.echo(f"enrolled {mask(caller.phone_number)} on {line.key} (enrolment {enrolment.id})")


@checkins_cli.command("change")
@click.argument("phone")
@click.option("--line", "line_key", default=None, help="Line key (default: the first line).")
@click.option("--window", default=None, help="Local time window like 09:00-10:00.")
@click.option("--days", default=None, help=_DAYS_HELP)
@click.option(
    "--skip-holidays/--call-on-holidays",
    "skip_holidays",
    default=None,
    help="Skip public holidays, or call on them too.",
)
@click.option("--retries", default=None, help="Minutes between calls, like 20,60.")
@click.option("--volunteer", "volunteer_phone", default=None, help="The volunteer's number.")
@click.option("--no-volunteer", is_flag=True, help="No volunteer (the supervisors are told).")
@click.option("--family", "family_numbers", multiple=True, help=_FAMILY_HELP)
@click.option("--all-family", is_flag=True, help="Text every consented family contact.")
@click.option("--no-family", is_flag=True, help="Do not text the family.")
def change_command(
    phone, line_key, window, days, skip_holidays, retries, volunteer_phone, no_volunteer,
    family_numbers, all_family, no_family,
) -> None:  # fmt: skip
    """Change PHONE's enrolment: only the options given change (audited, like the console)."""
    if volunteer_phone and no_volunteer:
        _fail("--volunteer and --no-volunteer contradict each other; give one of them")
    if sum((bool(family_numbers), all_family, no_family)) > 1:
        _fail("give only one of --family, --all-family and --no-family")
    enrolment = _enrolment(phone, line_key)
    caller = db.session.get(Caller, enrolment.caller_id)
    assert caller is not None
    changes: dict = {}
    if window is not None:
        changes["window_start"], changes["window_end"] = _window(window)
    if days is not None:
        changes["calendar_rule"], changes["days_of_week"] = _days(days)
    if skip_holidays is not None:
        changes["skip_public_holidays"] = skip_holidays
    if retries is not None:
        changes["retry_minutes"] = retries
    if volunteer_phone:
        changes["volunteer_id"] = _volunteer_id(volunteer_phone)
    elif no_volunteer:
        changes["volunteer_id"] = None
    if family_numbers:
        changes["notify_family"] = True
        changes["family_contact_ids"] = _family_ids(caller, family_numbers)
    elif all_family:
        changes["notify_family"], changes["family_contact_ids"] = True, None
    elif no_family:
        changes["notify_family"] = False
    if not changes:
        _fail(
            "nothing to change: give --window, --days, --skip-holidays/--call-on-holidays, "
            "--retries, --volunteer/--no-volunteer or --family/--all-family/--no-family"
        )
    before = audit.snapshot(enrolment, service.ENROLMENT_FIELDS)
    try:
        service.update_schedule(db.session, enrolment, operator_id=None, actor=_ACTOR, **changes)
    except ActionRefused as exc:
        _fail(exc.en)
    _old, new = audit.changes(before, audit.snapshot(enrolment, service.ENROLMENT_FIELDS))
    db.session.commit()
    if new:
        click.echo(f"changed enrolment {enrolment.id}: {', '.join(sorted(new))}")
    else:
        click.echo(f"enrolment {enrolment.id} already had these settings; nothing changed")


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
