"""`flask --app hotline checkins enrol / change / list / pause / resume / stop / run-due`."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from hotline.callers.models import Caller
from hotline.cases.models import AuditEntry
from hotline.checkins.models import (
    CalendarRule,
    CheckinEnrolment,
    CheckinEpisode,
    EnrolmentStatus,
)
from hotline.db import db
from tests import factories

ELDER = "+8613100000011"


def _elder_and_volunteer(app) -> None:
    with app.app_context():
        factories.make_caller(db.session, phone_number=ELDER, display_name="李伯")
        factories.make_volunteer(db.session, phone_number="+8613800000155")
        db.session.commit()


def _enrolment(app) -> CheckinEnrolment:
    with app.app_context():
        row = db.session.scalars(select(CheckinEnrolment)).one()
        db.session.expunge(row)
        return row


def test_enrol_list_pause_resume_stop(app, runner, time_machine):
    time_machine.move_to("2026-12-05T09:30:00+08:00", tick=False)
    _elder_and_volunteer(app)
    result = runner.invoke(
        args=[
            "checkins", "enrol", "13100000011", "--window", "09:00-10:00", "--days", "0,2,4",
            "--skip-holidays", "--volunteer", "+8613800000155", "--consent", "elder_in_person",
            "--witness", "社工",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    enrolment = _enrolment(app)
    assert enrolment.days_of_week == [0, 2, 4] and enrolment.skip_public_holidays
    assert enrolment.volunteer_id is not None
    listed = runner.invoke(args=["checkins", "list"])
    assert "active\t0,2,4\t09:00-10:00\tnext 2026-12-07" in listed.output
    again = runner.invoke(args=["checkins", "enrol", ELDER, "--consent", "elder_on_call"])
    assert again.exit_code == 1 and "already enrolled" in again.output
    paused = runner.invoke(args=["checkins", "pause", ELDER, "--until", "2026-12-20"])
    assert paused.exit_code == 0, paused.output
    assert _enrolment(app).status == EnrolmentStatus.PAUSED
    assert runner.invoke(args=["checkins", "resume", ELDER]).exit_code == 0
    assert runner.invoke(args=["checkins", "stop", ELDER, "--reason", "moved"]).exit_code == 0
    assert _enrolment(app).status == EnrolmentStatus.STOPPED
    assert "0,2,4" not in runner.invoke(args=["checkins", "list"]).output


def test_enrol_refuses_an_unknown_elder_and_bad_input(app, runner):
    _elder_and_volunteer(app)
    unknown = runner.invoke(
        args=["checkins", "enrol", "+8613100000099", "--consent", "elder_on_call"]
    )
    assert unknown.exit_code == 1 and "no caller profile" in unknown.output
    backwards = runner.invoke(
        args=["checkins", "enrol", ELDER, "--window", "11:00-09:00", "--consent", "elder_on_call"]
    )
    assert backwards.exit_code == 1 and "must start before it ends" in backwards.output


def test_run_due_opens_the_window_and_requests_the_call(app, runner, time_machine):
    time_machine.move_to("2026-12-05T09:30:00+08:00", tick=False)
    _elder_and_volunteer(app)
    runner.invoke(args=["checkins", "enrol", ELDER, "--consent", "elder_in_writing"])
    result = runner.invoke(args=["checkins", "run-due"])
    assert result.exit_code == 0 and "opened 1 check-in(s)" in result.output
    assert "opened 0 check-in(s)" in runner.invoke(args=["checkins", "run-due"]).output
    with app.app_context():
        [episode] = db.session.scalars(select(CheckinEpisode)).all()
        assert episode.callback_id is not None


# --------------------------------------------------------------------------- --family, change

DAUGHTER, SON, NEIGHBOUR = "+8613800000301", "+8613800000302", "+8613800000303"
ABROAD = "+447700900456"


def _family(app) -> dict[str, int]:
    """李伯 with a daughter and a son (consented to alerts), a neighbour without consent, and a
    nephew abroad (consented, but outside the number policy)."""
    _elder_and_volunteer(app)
    with app.app_context():
        caller = db.session.scalar(select(Caller).where(Caller.phone_number == ELDER))
        recorder = factories.make_operator(db.session)
        ids = {}
        for name, number, fields in (
            ("女儿", DAUGHTER, {}),
            ("儿子", SON, {}),
            ("邻居", NEIGHBOUR, {"consented_at": None, "consent_method": None}),
            ("外甥", ABROAD, {}),
        ):
            contact = factories.make_family_contact(
                db.session,
                caller_id=caller.id,
                phone_number=number,
                operator_id=recorder.id,
                name=name,
                **fields,
            )
            ids[name] = contact.id
        db.session.commit()
        return ids


def _trail(app) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "checkin_enrolment")
            .order_by(AuditEntry.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_enrol_tells_only_the_family_named_by_number(app, runner):
    ids = _family(app)
    result = runner.invoke(
        args=[
            "checkins", "enrol", ELDER, "--family", "138 0000 0302", "--family", DAUGHTER,
            "--consent", "elder_in_person",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    enrolment = _enrolment(app)
    assert enrolment.notify_family
    assert enrolment.family_contact_ids == sorted([ids["女儿"], ids["儿子"]])
    [entry] = _trail(app)
    assert (entry.action, entry.actor, entry.operator_id) == ("enrolled", "cli", None)


def test_enrol_without_family_still_tells_every_consented_contact(app, runner):
    _family(app)
    result = runner.invoke(args=["checkins", "enrol", ELDER, "--consent", "elder_in_person"])
    assert result.exit_code == 0, result.output
    assert _enrolment(app).family_contact_ids is None


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (
            "+8613800000399",
            "error: The elder has no family contact with the number +86*******0399. Add them on "
            "the elder's caller profile in the console, with the elder's consent to alerts, "
            "first.",
        ),
        (
            NEIGHBOUR,
            "error: Family contact 邻居 (+86*******0303) has no recorded consent from the elder "
            "to receive alerts. Record the elder's consent on the caller profile in the console "
            "first.",
        ),
        (
            ABROAD,
            "error: Family contact 外甥's number is outside the number policy (country code +44 "
            "is not allowed (allowed: +86)), so the lost-contact text could never reach them. "
            "Correct the number on the caller profile, or choose another family contact.",
        ),
        ("not-a-number", "error: 'not-a-number' is not a phone number."),
    ],
)
def test_enrol_refuses_a_family_number_it_cannot_tell(app, runner, number, message):
    _family(app)
    result = runner.invoke(
        args=[
            "checkins", "enrol", ELDER, "--family", DAUGHTER, "--family", number,
            "--consent", "elder_in_person",
        ]
    )  # fmt: skip
    assert result.exit_code == 1
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(CheckinEnrolment)) is None


def test_enrol_refuses_family_with_no_family(app, runner):
    _family(app)
    result = runner.invoke(
        args=["checkins", "enrol", ELDER, "--family", DAUGHTER, "--no-family",
              "--consent", "elder_in_person"]
    )  # fmt: skip
    assert result.exit_code == 1 and "contradict" in result.output
    with app.app_context():
        assert db.session.scalar(select(CheckinEnrolment)) is None


def test_change_changes_only_the_options_given_and_is_audited(app, runner, time_machine):
    time_machine.move_to("2026-12-05T09:30:00+08:00", tick=False)
    ids = _family(app)
    enrolled = runner.invoke(
        args=[
            "checkins", "enrol", ELDER, "--window", "09:00-10:00", "--days", "0,2,4",
            "--volunteer", "+8613800000155", "--retries", "30", "--consent", "elder_in_person",
        ]
    )  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    before = _enrolment(app)

    result = runner.invoke(args=["checkins", "change", ELDER, "--window", "10:00-11:30"])
    assert result.exit_code == 0, result.output
    assert f"changed enrolment {before.id}: window_end, window_start" in result.output
    after = _enrolment(app)
    assert (after.window_start, after.window_end) == (time(10), time(11, 30))
    for kept in ("days_of_week", "calendar_rule", "retry_minutes", "volunteer_id"):
        assert getattr(after, kept) == getattr(before, kept), kept
    assert after.family_contact_ids is None and after.notify_family
    entry = _trail(app)[-1]
    assert (entry.action, entry.actor, entry.operator_id) == ("updated", "cli", None)
    assert entry.before == {"window_start": "09:00:00", "window_end": "10:00:00"}
    assert entry.after == {"window_start": "10:00:00", "window_end": "11:30:00"}

    result = runner.invoke(
        args=[
            "checkins", "change", ELDER, "--days", "working_days", "--skip-holidays",
            "--retries", "15,45", "--no-volunteer", "--family", SON,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    after = _enrolment(app)
    assert after.calendar_rule == CalendarRule.WORKING_DAYS and after.days_of_week == []
    assert after.skip_public_holidays and after.retry_minutes == "15,45"
    assert after.volunteer_id is None
    assert after.family_contact_ids == [ids["儿子"]] and after.notify_family
    assert (after.window_start, after.window_end) == (time(10), time(11, 30)), "unchanged"

    assert runner.invoke(args=["checkins", "change", ELDER, "--no-family"]).exit_code == 0
    assert not _enrolment(app).notify_family
    assert runner.invoke(args=["checkins", "change", ELDER, "--all-family"]).exit_code == 0
    after = _enrolment(app)
    assert after.notify_family and after.family_contact_ids is None
    result = runner.invoke(
        args=["checkins", "change", ELDER, "--volunteer", "+8613800000155", "--call-on-holidays"]
    )
    assert result.exit_code == 0, result.output
    after = _enrolment(app)
    assert after.volunteer_id == before.volunteer_id and not after.skip_public_holidays


def test_change_with_the_same_values_changes_nothing_and_records_nothing(app, runner):
    _family(app)
    runner.invoke(args=["checkins", "enrol", ELDER, "--consent", "elder_in_person"])
    entries = len(_trail(app))
    result = runner.invoke(args=["checkins", "change", ELDER, "--window", "09:00-11:00"])
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output
    assert len(_trail(app)) == entries


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to change"),
        (["--window", "11:00-09:00"], "must start before it ends"),
        (["--days", "7"], "Days are 0 (Monday) to 6 (Sunday)."),
        (["--retries", "0"], "Each retry must be between 1 and 1440 minutes"),
        (["--volunteer", "+8613800000999"], "no volunteer on the roster"),
        (["--volunteer", "+8613800000155", "--no-volunteer"], "contradict"),
        (["--family", DAUGHTER, "--all-family"], "give only one of --family"),
        (["--family", NEIGHBOUR], "has no recorded consent from the elder"),
        (["--family", ABROAD], "outside the number policy"),
    ],
)
def test_change_refuses_what_it_cannot_do_and_changes_nothing(app, runner, args, message):
    _family(app)
    runner.invoke(args=["checkins", "enrol", ELDER, "--consent", "elder_in_person"])
    before, entries = _enrolment(app), len(_trail(app))
    result = runner.invoke(args=["checkins", "change", ELDER, *args])
    assert result.exit_code == 1
    assert message in result.output
    after = _enrolment(app)
    for field in ("window_start", "window_end", "days_of_week", "retry_minutes", "volunteer_id"):
        assert getattr(after, field) == getattr(before, field), field
    assert after.family_contact_ids is None and len(_trail(app)) == entries


def test_change_refuses_an_elder_who_is_not_enrolled(app, runner):
    _family(app)
    result = runner.invoke(args=["checkins", "change", ELDER, "--window", "10:00-11:00"])
    assert result.exit_code == 1 and "is not enrolled on line main" in result.output
