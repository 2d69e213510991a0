"""The audit trail: one entry per change, personal values redacted, and nobody can edit it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError

from hotline.audit import AuditTrailIsAppendOnly
from hotline.callers import service as callers_service
from hotline.cases import lifecycle
from hotline.cases.models import AuditEntry
from hotline.timeutil import utcnow


def test_each_change_to_a_case_writes_one_entry_with_who_before_and_after(
    session, make_caller, make_staff, line_id, audit_of
):
    operator = make_staff()
    supervisor = make_staff()
    case = lifecycle.open_or_continue_case(
        session, caller_id=make_caller(), line_id=line_id, channel="call", operator_id=operator
    )
    lifecycle.set_scenario(
        session, case, scenario="medical", sub_topic="电话预约挂号", operator_id=operator
    )
    lifecycle.update_summary(session, case, summary="想约下周三的心内科", operator_id=operator)
    lifecycle.add_note(session, case, text="已告诉她医院的人工窗口时间", operator_id=operator)
    lifecycle.change_status(session, case, "in_progress", operator_id=operator)
    lifecycle.escalate(session, case, reason="医院不接受电话预约", operator_id=operator)
    lifecycle.assign_escalation(
        session,
        case,
        assignee_id=supervisor,
        deadline_at=utcnow() + timedelta(hours=5),
        operator_id=supervisor,
    )
    lifecycle.resolve(session, case, outcome="handled_on_behalf", operator_id=supervisor)
    session.commit()

    entries = audit_of(session, "case", case.id)
    assert [e.action for e in entries] == [
        "opened",
        "scenario_set",
        "summary_updated",
        "note_added",
        "status_changed",
        "escalated",
        "escalation_assigned",
        "resolved",
    ]
    assert all(e.occurred_at is not None for e in entries)
    assert [e.operator_id for e in entries] == [operator] * 6 + [supervisor] * 2
    scenario = entries[1]
    assert scenario.before == {"scenario": "other", "sub_topic": ""}
    assert scenario.after == {"scenario": "medical", "sub_topic": "电话预约挂号"}
    assigned = entries[6]
    assert assigned.before["escalation_assignee_id"] is None
    assert assigned.after["escalation_assignee_id"] == supervisor
    resolved = entries[7]
    assert (
        resolved.before["status"] == "escalated"
        and resolved.after["outcome"] == "handled_on_behalf"
    )


def test_personal_values_are_redacted_in_the_trail(session, make_caller, make_staff, audit_of):
    operator = make_staff()
    caller_id = make_caller(phone_number="+8613800138000")
    from hotline.callers.models import Caller

    caller = session.get(Caller, caller_id)
    callers_service.update_profile(
        session,
        caller,
        operator_id=operator,
        name="王秀英",
        district="朝阳区",
        is_older_caller=True,
    )
    contact = callers_service.add_family_contact(
        session,
        caller_id,
        name="李丽",
        relation="女儿",
        phone_number="139 0013 9000",
        operator_id=operator,
    )
    session.commit()
    profile = audit_of(session, "caller", caller_id)[-1]
    assert profile.after == {"name": "<3 chars>", "district": "朝阳区", "is_older_caller": True}
    added = audit_of(session, "family_contact", contact.id)[-1]
    assert added.after["phone_number"] == "+86*******9000"
    assert added.after["name"] == "<2 chars>"
    everything = " ".join(f"{e.before} {e.after}" for e in audit_of(session))
    for secret in ("王秀英", "李丽", "13800138000", "13900139000"):
        assert secret not in everything


def test_audit_entries_cannot_be_changed_or_deleted_through_the_session(
    session, make_caller, line_id
):
    lifecycle.open_case(session, caller_id=make_caller(), line_id=line_id, channel="call")
    session.commit()
    entry = session.query(AuditEntry).first()

    entry.action = "nothing happened"
    with pytest.raises(AuditTrailIsAppendOnly):
        session.flush()
    session.rollback()

    session.delete(session.get(AuditEntry, entry.id))
    with pytest.raises(AuditTrailIsAppendOnly):
        session.flush()
    session.rollback()

    with pytest.raises(AuditTrailIsAppendOnly):
        session.execute(update(AuditEntry).values(action="x"))
    with pytest.raises(AuditTrailIsAppendOnly):
        session.execute(delete(AuditEntry))
    with pytest.raises(AuditTrailIsAppendOnly):
        session.execute(update(AuditEntry.__table__).values(action="x"))
    session.rollback()
    assert session.get(AuditEntry, entry.id).action == "opened"


def test_the_database_refuses_to_change_the_trail_too(session, make_caller, line_id):
    lifecycle.open_case(session, caller_id=make_caller(), line_id=line_id, channel="call")
    session.commit()
    for statement in ("UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.scalar(text("SELECT count(*) FROM audit_entries")) == 1
