"""`flask --app hotline checkins enrol / list / pause / resume / stop / run-due`."""

from __future__ import annotations

from sqlalchemy import select

from hotline.checkins.models import CheckinEnrolment, CheckinEpisode, EnrolmentStatus
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
