"""The case lifecycle: every transition allowed and refused, each change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.cases import followups, lifecycle, referrals
from hotline.cases.models import CaseOutcome, CaseStatus, ContactKind, WaitingOn
from hotline.errors import CaseIsClosed, InvalidInput, TransitionRefused
from hotline.timeutil import utcnow

ALL = list(CaseStatus)
ALLOWED = {
    (CaseStatus.OPEN, CaseStatus.IN_PROGRESS),
    (CaseStatus.OPEN, CaseStatus.WAITING),
    (CaseStatus.OPEN, CaseStatus.ESCALATED),
    (CaseStatus.OPEN, CaseStatus.RESOLVED),
    (CaseStatus.IN_PROGRESS, CaseStatus.WAITING),
    (CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED),
    (CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED),
    (CaseStatus.WAITING, CaseStatus.IN_PROGRESS),
    (CaseStatus.WAITING, CaseStatus.ESCALATED),
    (CaseStatus.WAITING, CaseStatus.RESOLVED),
    (CaseStatus.ESCALATED, CaseStatus.IN_PROGRESS),
    (CaseStatus.ESCALATED, CaseStatus.WAITING),
    (CaseStatus.ESCALATED, CaseStatus.RESOLVED),
    (CaseStatus.RESOLVED, CaseStatus.IN_PROGRESS),  # reopen
    (CaseStatus.RESOLVED, CaseStatus.CLOSED),
}

#: How to reach each status from a new case.
PATHS = {
    CaseStatus.OPEN: [],
    CaseStatus.IN_PROGRESS: [CaseStatus.IN_PROGRESS],
    CaseStatus.WAITING: [CaseStatus.WAITING],
    CaseStatus.ESCALATED: [CaseStatus.ESCALATED],
    CaseStatus.RESOLVED: [CaseStatus.RESOLVED],
    CaseStatus.CLOSED: [CaseStatus.RESOLVED, CaseStatus.CLOSED],
}
#: What each target needs.
NEEDS = {
    CaseStatus.WAITING: {"waiting_on": "agency"},
    CaseStatus.ESCALATED: {"reason": "医院挂号系统不接受电话预约"},
    CaseStatus.RESOLVED: {"outcome": "answered"},
}


def _case_in(session, status, caller_id, line_id, operator_id):
    case = lifecycle.open_case(
        session, caller_id=caller_id, line_id=line_id, channel="call", operator_id=operator_id
    )
    for step in PATHS[status]:
        lifecycle.change_status(session, case, step, operator_id=operator_id, **NEEDS.get(step, {}))
    assert case.status == status
    session.commit()
    return case


def test_the_table_matches_the_rules():
    assert {(a, b) for a, targets in lifecycle.TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize("start", ALL, ids=lambda s: s.value)
def test_every_transition_is_allowed_or_refused_with_a_clear_message(
    session, make_staff, line_id, audit_of, start
):
    """From `start` to each of the six statuses: allowed ones are applied and audited (who,
    before, after); refused ones raise a bilingual message and change nothing."""
    from hotline.callers.models import Caller

    operator = make_staff()
    for n, target in enumerate(ALL):
        caller = Caller(phone_number=f"+86131234567{n:02d}")
        session.add(caller)
        session.flush()
        case = _case_in(session, start, caller.id, line_id, operator)
        trail_before = len(audit_of(session, "case", case.id))
        if (start, target) in ALLOWED:
            lifecycle.change_status(
                session, case, target, operator_id=operator, **NEEDS.get(target, {})
            )
            session.commit()
            assert case.status == target, (start, target)
            entries = audit_of(session, "case", case.id)
            assert len(entries) == trail_before + 1, (start, target)
            last = entries[-1]
            assert last.operator_id == operator
            assert last.before["status"] == start.value
            assert last.after["status"] == target.value
            continue
        expected = CaseIsClosed if start == CaseStatus.CLOSED else TransitionRefused
        with pytest.raises(expected) as refused:
            lifecycle.change_status(
                session, case, target, operator_id=operator, **NEEDS.get(target, {})
            )
        assert refused.value.zh and refused.value.en
        if expected is TransitionRefused:
            assert "cannot go from" in refused.value.en and "不能从" in refused.value.zh
        session.rollback()
        assert case.status == start, (start, target)
        assert len(audit_of(session, "case", case.id)) == trail_before, (start, target)


def test_waiting_needs_to_say_on_whom(session, make_caller, line_id):
    case = _case_in(session, CaseStatus.IN_PROGRESS, make_caller(), line_id, None)
    with pytest.raises(InvalidInput, match="waits on"):
        lifecycle.change_status(session, case, CaseStatus.WAITING, operator_id=None)
    assert case.status == CaseStatus.IN_PROGRESS
    lifecycle.change_status(session, case, "waiting", operator_id=None, waiting_on="caller")
    assert case.waiting_on == WaitingOn.CALLER


def test_escalating_needs_a_reason_and_resolving_an_outcome(session, make_caller, line_id):
    case = _case_in(session, CaseStatus.IN_PROGRESS, make_caller(), line_id, None)
    with pytest.raises(InvalidInput, match="reason"):
        lifecycle.escalate(session, case, reason="  ", operator_id=None)
    with pytest.raises(InvalidInput, match="outcome"):
        lifecycle.resolve(session, case, outcome="", operator_id=None)
    with pytest.raises(InvalidInput):
        lifecycle.resolve(session, case, outcome="made-up", operator_id=None)
    assert case.status == CaseStatus.IN_PROGRESS and case.waiting_on is None


def test_a_refused_resolve_leaves_the_waiting_case_untouched(session, make_caller, line_id):
    case = _case_in(session, CaseStatus.WAITING, make_caller(), line_id, None)
    with pytest.raises(InvalidInput):
        lifecycle.resolve(session, case, outcome=None, operator_id=None)
    assert case.waiting_on == WaitingOn.AGENCY


def test_reopen_clears_the_outcome_and_counts(session, make_caller, make_staff, line_id, audit_of):
    operator = make_staff()
    case = _case_in(session, CaseStatus.RESOLVED, make_caller(), line_id, operator)
    assert case.outcome == CaseOutcome.ANSWERED and case.resolved_at is not None
    lifecycle.reopen(session, case, operator_id=operator, reason="来电人说问题还在")
    assert case.status == CaseStatus.IN_PROGRESS
    assert case.outcome is None and case.resolved_at is None and case.reopen_count == 1
    last = audit_of(session, "case", case.id)[-1]
    assert last.action == "reopened"
    assert last.after["reason"] == "<8 chars>", "free text is redacted in the trail"


def test_only_a_resolved_case_can_be_reopened(session, make_caller, line_id):
    case = _case_in(session, CaseStatus.WAITING, make_caller(), line_id, None)
    with pytest.raises(TransitionRefused, match="Only a resolved case"):
        lifecycle.reopen(session, case, operator_id=None)
    closed = _case_in(
        session, CaseStatus.CLOSED, make_caller(phone_number="+8613123456702"), line_id, None
    )
    with pytest.raises(CaseIsClosed):
        lifecycle.reopen(session, closed, operator_id=None)


def test_a_closed_case_is_read_only(session, make_caller, line_id, make_call):
    caller = make_caller()
    call_id, _sid = make_call(caller)
    case = _case_in(session, CaseStatus.CLOSED, caller, line_id, None)
    attempts = [
        lambda: lifecycle.add_note(session, case, text="再补一句", operator_id=None),
        lambda: lifecycle.set_scenario(session, case, scenario="medical", operator_id=None),
        lambda: lifecycle.update_summary(session, case, summary="x", operator_id=None),
        lambda: lifecycle.record_contact(session, case, kind="call", call_id=call_id),
        lambda: referrals.refer_case(
            session, case, target_kind="agency", target_name="民政", reason="r", operator_id=None
        ),
        lambda: followups.set_follow_up(
            session, case, follow_up_at=utcnow() + timedelta(days=3), operator_id=None
        ),
        lambda: lifecycle.set_owner(session, case, owner_id=None, operator_id=None),
    ]
    for attempt in attempts:
        with pytest.raises(CaseIsClosed, match="read-only"):
            attempt()


def test_a_case_with_a_follow_up_to_come_is_not_closed(session, make_caller, line_id):
    case = _case_in(session, CaseStatus.IN_PROGRESS, make_caller(), line_id, None)
    followups.set_follow_up(
        session, case, follow_up_at=utcnow() + timedelta(days=7), operator_id=None
    )
    lifecycle.resolve(session, case, outcome="answered", operator_id=None)
    with pytest.raises(TransitionRefused, match="follow-up"):
        lifecycle.close(session, case, operator_id=None)


def test_a_caller_getting_back_puts_a_case_waiting_on_them_back_in_progress(
    session, make_caller, line_id, make_call
):
    caller = make_caller()
    case = _case_in(session, CaseStatus.IN_PROGRESS, caller, line_id, None)
    lifecycle.change_status(session, case, "waiting", operator_id=None, waiting_on="caller")
    session.commit()
    call_id, _ = make_call(caller)
    lifecycle.record_contact(session, case, kind=ContactKind.CALL, call_id=call_id)
    assert case.status == CaseStatus.IN_PROGRESS and case.waiting_on is None


def test_escalation_gets_a_default_deadline_shorter_when_urgent(session, make_caller, line_id):
    normal = _case_in(session, CaseStatus.IN_PROGRESS, make_caller(), line_id, None)
    urgent = _case_in(
        session, CaseStatus.IN_PROGRESS, make_caller(phone_number="+8613123456702"), line_id, None
    )
    lifecycle.escalate(session, normal, reason="需要协调医院", operator_id=None)
    lifecycle.escalate(session, urgent, reason="独居老人没有药了", operator_id=None, is_urgent=True)
    assert normal.escalation_deadline_at - normal.escalated_at == lifecycle.ESCALATION_DEADLINE
    assert (
        urgent.escalation_deadline_at - urgent.escalated_at == lifecycle.URGENT_ESCALATION_DEADLINE
    )
    assert urgent.is_urgent
