"""The check-in call through the callback dispatcher, answering-machine detection, the retries
and the cascade, and its closing by a volunteer's or family member's reply, in each order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.cases.models import Case, CaseStatus
from hotline.checkins.models import EpisodeOutcome, EpisodeStatus
from hotline.db import db
from hotline.operators.models import Role
from hotline.sms.models import SmsMessage, SmsStatus
from tests import factories
from tests.callbacks.conftest import CallbackCall, create_requests
from tests.sms.fixtures import sms_params

from .conftest import (
    DAUGHTER_PHONE,
    ELDER_PHONE,
    FOREIGN_SON_PHONE,
    LINE_NUMBER,
    VOLUNTEER_PHONE,
    current_attempt,
    episodes,
)


def _call(app, twilio, episode) -> CallbackCall:
    attempt = current_attempt(app, episode.callback_id)
    assert attempt.call_sid, "the dispatcher placed no call"
    return CallbackCall(twilio, attempt.id, attempt.call_sid, ELDER_PHONE)


def _outbox(app, **where) -> list[SmsMessage]:
    with app.app_context():
        query = select(SmsMessage).order_by(SmsMessage.id)
        for name, value in where.items():
            query = query.where(getattr(SmsMessage, name) == value)
        rows = db.session.scalars(query).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_the_window_opens_and_the_dispatcher_places_the_call_with_machine_detection(
    app, elder, jobs, fake_calls, http_client
):
    jobs.open_due()
    jobs.open_due()  # a second run (or a second clock) changes nothing
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.CALLING and episode.attempts == 1
    with app.app_context():
        callback = db.session.get(CallbackRequest, episode.callback_id)
        assert callback.reason == CallbackReason.CHECK_IN
        assert callback.max_attempts == 1
    # Saturday: outside the line's callback working days, yet the elder chose every day.
    report = jobs.dispatch()
    assert len(report.placed) == 1
    [create] = create_requests(http_client)
    attempt = current_attempt(app, episode.callback_id)
    assert create.method == "POST"
    assert create.url == (
        "https://api.twilio.com/2010-04-01/Accounts/" + "AC" + "1" * 32 + "/Calls.json"
    )
    assert create.data == {
        "To": [ELDER_PHONE],
        "From": [LINE_NUMBER],
        "Url": [f"http://localhost/twilio/callbacks/answer?attempt={attempt.id}"],
        "StatusCallback": [f"http://localhost/twilio/callbacks/status?attempt={attempt.id}"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": ["POST"],
        "Timeout": [create.data["Timeout"][0]],
        "MachineDetection": ["DetectMessageEnd"],
        "FallbackUrl": ["http://localhost/twilio/voice/fallback"],
        "FallbackMethod": ["POST"],
    }


@pytest.mark.parametrize(
    ("answered_by", "final_status"),
    [
        ("machine_end_beep", "completed"),
        ("fax", "completed"),
        (None, "no-answer"),
        (None, "busy"),
        ("human", "completed"),  # answered, but hung up before answering the question
    ],
)
def test_a_missed_attempt_is_retried_per_the_enrolment(
    app, elder, jobs, fake_calls, twilio, clock, answered_by, final_status
):
    jobs.open_due()
    jobs.dispatch()
    [episode] = episodes(app)
    call = _call(app, twilio, episode)
    if answered_by is not None:
        response = call.answer(answered_by=answered_by)
        assert response.status_code == 200
    call.status(final_status, 3, duration=5)
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.MISSED
    assert episode.next_step_at == episode.last_attempt_at + timedelta(minutes=20)
    # No "we could not reach you" text to the elder, no callback-failure alert: the check-in's
    # own cascade decides who is told.
    assert _outbox(app) == []
    clock.shift(timedelta(minutes=19))
    jobs.cascade()
    assert episodes(app)[0].attempts == 1
    clock.shift(timedelta(minutes=1))
    jobs.cascade()
    jobs.cascade()  # the step is taken once
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.CALLING and episode.attempts == 2


def _miss_every_call(app, jobs, twilio, clock) -> None:
    """The first call and both retries go unanswered; the cascade runs."""
    jobs.open_due()
    for delay in (20, 60, None):
        jobs.dispatch()
        [episode] = episodes(app)
        _call(app, twilio, episode).status("no-answer", 3)
        if delay is not None:
            clock.shift(timedelta(minutes=delay))
            jobs.cascade()
    jobs.cascade()


@pytest.fixture
def supervisor(app):
    with app.app_context():
        operator = factories.make_operator(
            db.session, role=Role.SUPERVISOR, phone_number="+8613800000001"
        )
        db.session.commit()
        return operator.id


def test_the_cascade_after_the_last_miss_in_order(
    app, elder, jobs, fake_calls, twilio, clock, supervisor
):
    _miss_every_call(app, jobs, twilio, clock)
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.CASCADE and episode.attempts == 3
    assert episode.missed_at is not None
    assert episode.missed_at <= episode.volunteer_sms_at <= episode.family_sms_at
    assert episode.family_sms_at <= episode.case_opened_at
    assert episode.family_sms_count == 1
    assert episode.supervisor_alerted_at is None
    texts = _outbox(app)
    assert [(t.to_number, t.kind, t.status) for t in texts] == [
        (VOLUNTEER_PHONE, "checkin_volunteer_visit", SmsStatus.QUEUED),
        (DAUGHTER_PHONE, "checkin_family", SmsStatus.QUEUED),
        # Consented, but outside the number policy: written as refused, never sent.
        (FOREIGN_SON_PHONE, "checkin_family", SmsStatus.REFUSED),
    ]
    assert texts[0].body.endswith(
        "关爱回访：王阿姨今天3次未接电话，请上门或致电看看。回复1已联系上、2无法联系。"
    )
    with app.app_context():
        case = db.session.get(Case, episode.case_id)
        assert (case.status, case.scenario, case.sub_topic) == (
            CaseStatus.OPEN,
            "emergency",
            "失联",
        )
        # Its deadline: the volunteer has 45 minutes (CHECKIN_VOLUNTEER_REPLY_MINUTES).
        assert "11:35前无回复即上报" in case.summary  # the last call missed at 10:50
    assert episode.next_step_at == episode.case_opened_at + timedelta(minutes=45)
    jobs.alerts()
    assert _outbox(app, purpose="supervisor_alert") == []  # nobody is alerted yet
    clock.shift(timedelta(minutes=44))
    jobs.cascade()
    assert episodes(app)[0].supervisor_alerted_at is None
    clock.shift(timedelta(minutes=1))
    jobs.cascade()
    jobs.cascade()
    [episode] = episodes(app)
    assert episode.supervisor_alerted_at is not None
    with app.app_context():
        case = db.session.get(Case, episode.case_id)
        assert case.status == CaseStatus.ESCALATED and case.is_urgent
        assert case.escalation_deadline_at is not None
    # The alerts feature tells the supervisor (urgent case), once.
    jobs.alerts()
    jobs.alerts()
    [alert] = _outbox(app, purpose="supervisor_alert")
    assert alert.to_number == "+8613800000001"
    assert alert.body.startswith(f"工单{case.number}") and "关爱回访失联" in alert.body


def _reply(twilio, body: str, from_: str):
    response = twilio.post("/twilio/sms", sms_params(body, from_=from_, to=LINE_NUMBER))
    assert response.status_code in (200, 204), response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("first", "code", "status", "outcome", "case_status"),
    [
        (
            VOLUNTEER_PHONE,
            "1",
            EpisodeStatus.REACHED,
            EpisodeOutcome.REACHED_BY_VOLUNTEER,
            CaseStatus.RESOLVED,
        ),
        (
            DAUGHTER_PHONE,
            "1",
            EpisodeStatus.REACHED,
            EpisodeOutcome.REACHED_BY_FAMILY,
            CaseStatus.RESOLVED,
        ),
        (
            VOLUNTEER_PHONE,
            "2",
            EpisodeStatus.UNREACHABLE,
            EpisodeOutcome.UNREACHABLE,
            CaseStatus.ESCALATED,
        ),
        (
            DAUGHTER_PHONE,
            "2",
            EpisodeStatus.UNREACHABLE,
            EpisodeOutcome.UNREACHABLE,
            CaseStatus.ESCALATED,
        ),
    ],
)
def test_the_first_reply_closes_the_episode_and_a_later_one_changes_nothing(
    app, elder, jobs, fake_calls, twilio, clock, first, code, status, outcome, case_status
):
    _miss_every_call(app, jobs, twilio, clock)
    clock.shift(timedelta(minutes=10))
    _reply(twilio, code, first)
    [episode] = episodes(app)
    assert (episode.status, episode.outcome, episode.reply_code) == (status, outcome, code)
    assert episode.reply_by == ("volunteer" if first == VOLUNTEER_PHONE else "family")
    with app.app_context():
        assert db.session.get(Case, episode.case_id).status == case_status
    [thanks] = _outbox(app, kind="checkin_reply_thanks")
    assert thanks.to_number == first
    # The other one answers later: handled as an ordinary text, the episode stays as it is.
    other = DAUGHTER_PHONE if first == VOLUNTEER_PHONE else VOLUNTEER_PHONE
    _reply(twilio, "1", other)
    assert episodes(app)[0].outcome == outcome
    assert len(_outbox(app, kind="checkin_reply_thanks")) == 1
    # Reached: the supervisors are never alerted. Cannot reach: the case is escalated at once.
    clock.shift(timedelta(hours=2))
    jobs.cascade()
    assert (episodes(app)[0].supervisor_alerted_at is not None) == (code == "2")


def test_a_reply_after_the_supervisor_alert_still_closes_it(
    app, elder, jobs, fake_calls, twilio, clock, supervisor
):
    _miss_every_call(app, jobs, twilio, clock)
    clock.shift(timedelta(minutes=50))
    jobs.cascade()
    assert episodes(app)[0].supervisor_alerted_at is not None
    _reply(twilio, "1", VOLUNTEER_PHONE)
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.REACHED
    with app.app_context():
        assert db.session.get(Case, episode.case_id).status == CaseStatus.RESOLVED


def test_the_elder_calling_in_closes_the_cascade_and_its_case(
    app, elder, jobs, fake_calls, twilio, clock
):
    from hotline.checkins import cascade

    _miss_every_call(app, jobs, twilio, clock)
    with app.app_context():
        cascade.elder_called_in(db.session, elder.caller_id, elder.line_id, via="called_in")
        db.session.commit()
    [episode] = episodes(app)
    assert (episode.status, episode.outcome, episode.closed_by) == (
        EpisodeStatus.REACHED,
        EpisodeOutcome.CALLED_IN,
        "elder",
    )
    with app.app_context():
        assert db.session.get(Case, episode.case_id).status == CaseStatus.RESOLVED
    # The volunteer's late reply is an ordinary text now.
    _reply(twilio, "1", VOLUNTEER_PHONE)
    assert episodes(app)[0].reply_code is None


def test_a_refused_elder_number_goes_straight_to_the_next_step(app, clock, jobs):
    from hotline.callers.models import Caller

    from .conftest import enrol_elder

    # Enrolment refuses such a number (test_number_policy.py): the number changed since.
    enrolled = enrol_elder(app, retry_minutes="")
    with app.app_context():
        db.session.get(Caller, enrolled.caller_id).phone_number = "+447700900999"
        db.session.commit()
    jobs.open_due()
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.CASCADE
    with app.app_context():
        assert db.session.get(CallbackRequest, episode.callback_id).status == CallbackStatus.REFUSED


def test_a_pause_skips_its_days_and_the_clock_resumes_it_after(app, elder, jobs, clock):
    from datetime import date

    from hotline.checkins import service
    from hotline.checkins.models import CheckinEnrolment, EnrolmentStatus

    with app.app_context():
        enrolment = db.session.get(CheckinEnrolment, elder.enrolment_id)
        service.pause(
            db.session, enrolment, until=date(2026, 12, 6), operator_id=None, reason="住院"
        )
        db.session.commit()
    jobs.open_due()  # Saturday 5 Dec: paused
    clock.shift(timedelta(days=1))
    jobs.open_due()  # Sunday 6 Dec: the last paused day
    assert episodes(app) == []
    clock.shift(timedelta(days=1))
    jobs.open_due()  # Monday 7 Dec: resumed by the clock, and called
    with app.app_context():
        enrolment = db.session.get(CheckinEnrolment, elder.enrolment_id)
        assert (enrolment.status, enrolment.paused_until) == (EnrolmentStatus.ACTIVE, None)
    [episode] = episodes(app)
    assert episode.due_date == date(2026, 12, 7) and episode.status == EpisodeStatus.CALLING


def test_without_a_volunteer_the_supervisors_are_told_at_once(
    app, jobs, fake_calls, twilio, clock, supervisor
):
    from hotline.checkins import service
    from hotline.checkins.models import CheckinEnrolment

    from .conftest import enrol_elder

    enrolled = enrol_elder(app)
    with app.app_context():
        enrolment = db.session.get(CheckinEnrolment, enrolled.enrolment_id)
        service.update_schedule(db.session, enrolment, operator_id=None, volunteer_id=None)
        db.session.commit()
    _miss_every_call(app, jobs, twilio, clock)
    jobs.cascade()
    [episode] = episodes(app)
    assert episode.volunteer_sms_at is None and episode.supervisor_alerted_at is not None
    with app.app_context():
        assert db.session.get(Case, episode.case_id).status == CaseStatus.ESCALATED
    jobs.alerts()
    assert len(_outbox(app, purpose="supervisor_alert")) == 1


def _owe_a_callback(app, elder) -> None:
    from hotline.callbacks.service import request_callback
    from hotline.timeutil import utcnow

    with app.app_context():
        request_callback(
            db.session,
            line_id=elder.line_id,
            phone_number=ELDER_PHONE,
            reason=CallbackReason.VIRTUAL_HOLD,
            original_arrival_at=utcnow() - timedelta(minutes=30),
            caller_id=elder.caller_id,
        )
        db.session.commit()


def test_a_check_in_merged_into_another_callback_is_confirmed_by_the_operator_call(
    app, elder, jobs, fake_calls, twilio, clock
):
    clock.shift(timedelta(days=2))  # Monday 09:30: inside the line's calling window
    _owe_a_callback(app, elder)
    jobs.open_due()
    [episode] = episodes(app)
    with app.app_context():
        assert db.session.get(CallbackRequest, episode.callback_id).reason == (
            CallbackReason.VIRTUAL_HOLD
        )
    jobs.dispatch()
    call = _call(app, twilio, episode)
    assert "<Enqueue" in call.answer(answered_by="human").get_data(as_text=True)
    call.status("completed", 5, duration=300)
    [episode] = episodes(app)
    assert (episode.status, episode.answered_via) == (EpisodeStatus.OK, "operator")


def test_a_check_in_call_never_placed_counts_as_missed_after_the_watchdog(
    app, elder, jobs, fake_calls, twilio, clock
):
    # The dispatcher never places it (its clock process is down). (A callback the check-in
    # met on a closed line no longer holds it back: see test_merged_callbacks.)
    jobs.open_due()
    clock.shift(timedelta(hours=2) - timedelta(seconds=1))
    jobs.cascade()
    assert episodes(app)[0].status == EpisodeStatus.CALLING
    clock.shift(timedelta(seconds=1))
    jobs.cascade()
    [episode] = episodes(app)
    assert (episode.status, episode.last_attempt_outcome) == (EpisodeStatus.MISSED, "not_placed")
