"""回访: a follow-up date creates a follow-up callback on that day, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.cases import followups, jobs, lifecycle
from hotline.cases.models import Case, CaseCallback, CaseStatus

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
FOLLOW_UP = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # Thursday 15:00 in Shanghai


def test_the_follow_up_callback_is_created_on_its_day_exactly_once(
    app, session, make_caller, line_id, audit_of
):
    caller = make_caller(phone_number="+8613800138000")
    with time_machine.travel(T0, tick=False):
        case = lifecycle.open_case(session, caller_id=caller, line_id=line_id, channel="call")
        followups.set_follow_up(session, case, follow_up_at=FOLLOW_UP, operator_id=None)
        lifecycle.resolve(session, case, outcome="answered", operator_id=None)
        session.commit()
    # The day before: nothing yet (a callback owed today would swallow it by merging).
    with time_machine.travel(FOLLOW_UP - timedelta(days=1), tick=False):
        jobs.run_follow_ups(app)
    assert session.scalars(select(CallbackRequest)).all() == []
    # 00:30 local on the day: the callback exists, due at the chosen time.
    with time_machine.travel(datetime(2026, 12, 2, 16, 30, tzinfo=UTC), tick=False):
        jobs.run_follow_ups(app)
        jobs.run_follow_ups(app)
    callbacks = session.scalars(select(CallbackRequest)).all()
    assert len(callbacks) == 1
    assert callbacks[0].case_id == case.id
    assert callbacks[0].reason == CallbackReason.FOLLOW_UP and callbacks[0].due_at == FOLLOW_UP
    link = session.scalar(select(CaseCallback))
    assert (link.case_id, link.purpose) == (case.id, "follow_up")
    session.expire_all()
    assert session.get(Case, case.id).follow_up_requested_at is not None
    assert audit_of(session, "case", case.id)[-1].action == "callback_scheduled"
    # The follow-up is done: the case may be closed now.
    lifecycle.close(session, session.get(Case, case.id), operator_id=None)
    assert session.get(Case, case.id).status == CaseStatus.CLOSED


def test_a_follow_up_that_cannot_be_called_is_not_retried_forever(app, session, line_id):
    with time_machine.travel(T0, tick=False):
        case = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="call")
        followups.set_follow_up(
            session, case, follow_up_at=T0 + timedelta(hours=2), operator_id=None
        )
        session.commit()
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        assert followups.request_due_follow_ups(session, T0 + timedelta(hours=3)) == 0
        assert followups.request_due_follow_ups(session, T0 + timedelta(hours=3)) == 0
    session.expire_all()
    assert session.get(Case, case.id).follow_up_requested_at is not None
    assert session.scalars(select(CallbackRequest)).all() == []


def test_changing_the_date_schedules_a_new_follow_up(session, make_caller, line_id):
    caller = make_caller()
    with time_machine.travel(T0, tick=False):
        case = lifecycle.open_case(session, caller_id=caller, line_id=line_id, channel="call")
        followups.set_follow_up(
            session, case, follow_up_at=T0 + timedelta(hours=1), operator_id=None
        )
        session.commit()
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert followups.request_due_follow_ups(session, T0 + timedelta(hours=2)) == 1
        case = session.get(Case, case.id)
        followups.set_follow_up(
            session, case, follow_up_at=T0 + timedelta(days=2), operator_id=None
        )
        session.commit()
        assert case.follow_up_requested_at is None
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert followups.request_due_follow_ups(session, T0 + timedelta(days=2)) == 1
