"""The event subscribers that replaced the callbacks feature's sideways calls: each is tested
called directly and through `events.publish` in the app (the wiring of app.SUBSCRIPTIONS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hotline import events
from hotline.alerts.callbacks import on_callback_gave_up
from hotline.callbacks.events import CallbackAttemptEnded, CallbackGaveUp
from hotline.callbacks.models import (
    AttemptOutcome,
    CallbackAttempt,
    CallbackReason,
    CallbackRequest,
    CallbackStatus,
)
from hotline.callers import service as callers_service
from hotline.cases.models import CaseCallback, CaseContact, CaseStatus, ContactKind
from hotline.cases.subscribers import on_callback_attempt_ended
from hotline.db import db
from hotline.operators.models import Role
from hotline.sms.models import SmsMessage, SmsPurpose
from tests import factories

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
ELDER = "+8613123456701"
DAUGHTER = "+8613123456702"
SUPERVISOR = "+8613800000001"
ADMIN = "+8613800000002"


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.rollback()


def _callback(session, *, caller_id: int | None, case_id: int | None = None) -> CallbackRequest:
    line = factories.main_line(session)
    callback = CallbackRequest(
        line_id=line.id,
        caller_id=caller_id,
        case_id=case_id,
        phone_number=ELDER,
        reason=CallbackReason.VIRTUAL_HOLD,
        status=CallbackStatus.FAILED,
        original_arrival_at=T0,
        due_at=T0,
        attempts=3,
    )
    session.add(callback)
    session.flush()
    return callback


def _gave_up_world(session) -> CallbackRequest:
    """An elder with a consented daughter, a supervisor and an admin with phones, an operator
    without one, and the elder's callback that gave up."""
    factories.make_operator(session, role=Role.SUPERVISOR, phone_number=SUPERVISOR)
    factories.make_operator(session, role=Role.ADMIN, phone_number=ADMIN)
    recorder = factories.make_operator(session, role=Role.OPERATOR, phone_number="+8613800000003")
    elder = factories.make_caller(session, phone_number=ELDER, display_name="王阿姨")
    daughter = callers_service.add_family_contact(
        session,
        elder.id,
        name="王女士",
        phone_number=DAUGHTER,
        operator_id=recorder.id,
        may_receive_alerts=True,
    )
    callers_service.record_consent(
        session, daughter, method="elder_on_call", recorded_by=recorder.id, consented_at=T0
    )
    return _callback(session, caller_id=elder.id)


def _texts(session) -> dict[str, SmsPurpose]:
    return {m.to_number: m.purpose for m in session.scalars(select(SmsMessage))}


EXPECTED_TEXTS = {
    ELDER: SmsPurpose.CALLBACK_FAILED,
    SUPERVISOR: SmsPurpose.SUPERVISOR_ALERT,
    # One definition of who gets alerts (hotline.sms.recipients): admins too, as for the
    # supervisor alerts and the daily summary; operators never.
    ADMIN: SmsPurpose.SUPERVISOR_ALERT,
    DAUGHTER: SmsPurpose.FAMILY_ALERT,
}


def test_gave_up_texts_the_caller_the_alert_recipients_and_the_family(session):
    callback = _gave_up_world(session)
    on_callback_gave_up(session, CallbackGaveUp(callback.id, AttemptOutcome.NO_ANSWER.value))
    assert _texts(session) == EXPECTED_TEXTS


def test_gave_up_is_wired_to_its_subscriber_and_runs_in_the_publishers_transaction(session):
    callback = _gave_up_world(session)
    events.publish(session, CallbackGaveUp(callback.id, AttemptOutcome.BUSY.value))
    assert _texts(session) == EXPECTED_TEXTS
    session.rollback()  # the subscriber did not commit: the texts go with the publisher's work
    assert _texts(session) == {}


def _attempt_world(session):
    """A callback on two cases (its own, and one that scheduled it, now closed) and one
    ended attempt."""
    line = factories.main_line(session)
    caller = factories.make_caller(session, phone_number=ELDER)
    case = factories.make_case(session, caller_id=caller.id, line_id=line.id)
    closed = factories.make_case(session, caller_id=None, line_id=line.id)
    callback = _callback(session, caller_id=caller.id, case_id=case.id)
    session.add(CaseCallback(case_id=closed.id, callback_id=callback.id, purpose="operator"))
    closed.status = CaseStatus.CLOSED  # closed since it scheduled the callback
    attempt = CallbackAttempt(
        callback_id=callback.id,
        number=2,
        claimed_by="test",
        claimed_at=T0 + timedelta(minutes=1),
        call_sid="CA" + "7" * 32,
        outcome=AttemptOutcome.NO_ANSWER,
    )
    session.add(attempt)
    session.flush()
    return case, closed, callback, attempt


def _attempt_contacts(session, case_id: int) -> list[CaseContact]:
    return list(
        session.scalars(
            select(CaseContact).where(
                CaseContact.case_id == case_id, CaseContact.kind == ContactKind.CALLBACK_ATTEMPT
            )
        )
    )


def test_an_ended_attempt_is_recorded_on_the_callbacks_open_cases(session):
    case, closed, callback, attempt = _attempt_world(session)
    on_callback_attempt_ended(session, CallbackAttemptEnded(callback.id, attempt.id))
    (contact,) = _attempt_contacts(session, case.id)
    assert contact.callback_id == callback.id
    assert contact.note.startswith("回电第2次")
    assert "(no_answer)" in contact.note
    assert _attempt_contacts(session, closed.id) == []  # a closed case is read-only


def test_an_ended_attempt_is_wired_to_the_cases_subscriber(session):
    case, _closed, callback, attempt = _attempt_world(session)
    events.publish(session, CallbackAttemptEnded(callback.id, attempt.id))
    assert len(_attempt_contacts(session, case.id)) == 1
