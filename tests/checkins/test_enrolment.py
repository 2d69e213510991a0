"""Enrolment: consent recorded, one live enrolment per elder and line, pause/resume/stop audited."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from hotline.cases.models import AuditEntry
from hotline.checkins import service
from hotline.checkins.models import CalendarRule, EnrolmentStatus
from hotline.errors import ActionRefused, InvalidInput
from hotline.timeutil import utcnow
from tests import factories


@pytest.fixture
def elder(session):
    caller = factories.make_caller(session, display_name="王阿姨", is_older_caller=True)
    session.commit()
    return caller


def _trail(session, enrolment_id):
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "checkin_enrolment", AuditEntry.entity_id == enrolment_id)
        .order_by(AuditEntry.id)
    ).all()


def test_enrol_records_consent_and_is_audited(session, elder):
    line = factories.main_line(session)
    volunteer = factories.make_volunteer(session)
    operator = factories.make_operator(session)
    enrolment = factories.make_enrolment(
        session,
        caller_id=elder.id,
        line_id=line.id,
        operator_id=operator.id,
        consent_witness="社区主任张某",
        calendar_rule="chosen_days",
        days_of_week=[4, 0, 2, 0],
        retry_minutes=" 20， 60 ",
        volunteer_id=volunteer.id,
    )
    session.commit()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    assert enrolment.calendar_rule == CalendarRule.CHOSEN_DAYS
    assert enrolment.days_of_week == [0, 2, 4]
    assert enrolment.retry_minutes == "20,60"
    assert enrolment.retry_delays == [20, 60]
    assert enrolment.consent_recorded_by == operator.id
    [entry] = _trail(session, enrolment.id)
    assert entry.action == "enrolled"
    assert entry.operator_id == operator.id
    # The witness's name is personal: only its length is kept in the trail.
    assert entry.after["consent_witness"] == "<6 chars>"
    assert entry.after["consent_method"] == "elder_in_person"


def test_one_live_enrolment_per_elder_and_line(session, elder):
    line = factories.main_line(session)
    first = factories.make_enrolment(session, caller_id=elder.id, line_id=line.id)
    with pytest.raises(ActionRefused):
        factories.make_enrolment(session, caller_id=elder.id, line_id=line.id)
    service.stop(session, first, operator_id=None, reason="moved")
    again = factories.make_enrolment(session, caller_id=elder.id, line_id=line.id)
    session.commit()
    assert again.id != first.id


@pytest.mark.parametrize(
    "fields",
    [
        {"window_start": time(11, 0), "window_end": time(9, 0)},
        {"calendar_rule": "chosen_days", "days_of_week": []},
        {"days_of_week": [7]},
        {"retry_minutes": "20,abc"},
        {"retry_minutes": "0"},
        {"consent_method": "family_says_so"},
        {"consented_at": utcnow() + timedelta(days=1)},
    ],
)
def test_enrol_refuses_bad_input(session, elder, fields):
    line = factories.main_line(session)
    with pytest.raises(InvalidInput):
        factories.make_enrolment(session, caller_id=elder.id, line_id=line.id, **fields)


def test_pause_resume_stop_are_audited(session, elder):
    line = factories.main_line(session)
    enrolment = factories.make_enrolment(session, caller_id=elder.id, line_id=line.id)
    today = date(2026, 12, 5)
    with pytest.raises(InvalidInput):
        service.pause(
            session, enrolment, until=today - timedelta(days=1), operator_id=None, today=today
        )
    service.pause(
        session,
        enrolment,
        until=today + timedelta(days=10),
        operator_id=None,
        reason="住院",
        today=today,
    )
    assert enrolment.status == EnrolmentStatus.PAUSED
    assert enrolment.paused_until == today + timedelta(days=10)
    service.resume(session, enrolment, operator_id=None)
    assert enrolment.status == EnrolmentStatus.ACTIVE and enrolment.paused_until is None
    service.stop(session, enrolment, operator_id=None, reason="搬走")
    with pytest.raises(ActionRefused):
        service.pause(session, enrolment, until=today, operator_id=None, today=today)
    session.commit()
    actions = [e.action for e in _trail(session, enrolment.id)]
    assert actions == ["enrolled", "paused", "resumed", "stopped"]
    paused = _trail(session, enrolment.id)[1]
    assert paused.after == {
        "status": "paused",
        "paused_until": (today + timedelta(days=10)).isoformat(),
        "pause_reason": "<2 chars>",
    }


def test_erasing_the_elder_stops_check_ins_and_removes_their_words(session, elder):
    from hotline.cases.privacy import anonymise_caller, export_caller_data
    from hotline.checkins.models import CheckinEpisode, EpisodeStatus

    line = factories.main_line(session)
    volunteer = factories.make_volunteer(session)
    enrolment = factories.make_enrolment(
        session,
        caller_id=elder.id,
        line_id=line.id,
        consent_witness="社区主任张某",
        volunteer_id=volunteer.id,
        notes="独居,耳背",
    )
    now = utcnow()
    session.add(
        CheckinEpisode(
            enrolment_id=enrolment.id,
            caller_id=elder.id,
            line_id=line.id,
            volunteer_id=volunteer.id,
            due_date=now.date(),
            window_start_at=now,
            window_end_at=now + timedelta(hours=2),
            status=EpisodeStatus.CASCADE,
            next_step_at=now,
        )
    )
    session.commit()
    exported = export_caller_data(session, elder.id, operator_id=None)
    assert [e["notes"] for e in exported["checkin_enrolments"]] == ["独居,耳背"]
    assert [e["status"] for e in exported["checkin_episodes"]] == ["cascade"]
    anonymise_caller(session, elder.id, operator_id=None, actor="test")
    session.commit()
    session.refresh(enrolment)
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert (enrolment.notes, enrolment.consent_witness, enrolment.volunteer_id) == ("", "", None)
    [episode] = session.scalars(select(CheckinEpisode)).all()
    assert (episode.status, episode.next_step_at, episode.volunteer_id) == (
        EpisodeStatus.CANCELED,
        None,
        None,
    )
