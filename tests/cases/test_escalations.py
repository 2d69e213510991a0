"""困难上报: escalations with deadlines, overdue ones, supervisor pages, the scenario review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from hotline.cases import lifecycle, queries
from hotline.cases.models import Case, CaseStatus
from hotline.db import db
from hotline.errors import InvalidInput, TransitionRefused
from hotline.operators.models import Role
from hotline.timeutil import utcnow

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def test_overdue_escalations_are_listed_most_overdue_first(
    session, make_caller, line_id, make_staff
):
    supervisor = make_staff(Role.SUPERVISOR)
    with time_machine.travel(T0, tick=False):
        a = lifecycle.open_case(session, caller_id=make_caller(), line_id=line_id, channel="call")
        b = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="call")
        c = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="call")
        lifecycle.escalate(session, a, reason="医院不接受电话预约", operator_id=None)
        lifecycle.escalate(session, b, reason="独居老人没有药", operator_id=None, is_urgent=True)
        lifecycle.escalate(session, c, reason="社保卡补办", operator_id=None)
        lifecycle.assign_escalation(
            session,
            c,
            assignee_id=supervisor,
            deadline_at=T0 + timedelta(days=3),
            operator_id=supervisor,
        )
        session.commit()
    assert lifecycle.overdue_escalations(session, T0 + timedelta(hours=1)) == []
    assert lifecycle.overdue_escalations(session, T0 + timedelta(hours=3)) == [b]
    assert lifecycle.overdue_escalations(session, T0 + timedelta(hours=25)) == [b, a]
    assert b.is_overdue(T0 + timedelta(hours=3))
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        lifecycle.mark_overdue_alerted(session, b, utcnow())
        lifecycle.change_status(session, b, "in_progress", operator_id=supervisor)
    assert lifecycle.overdue_escalations(session, T0 + timedelta(hours=25)) == [a], (
        "a case handed back is no longer an open escalation"
    )


def test_a_deadline_must_be_in_the_future_and_only_for_escalated_cases(
    session, make_caller, line_id, make_staff
):
    supervisor = make_staff(Role.SUPERVISOR)
    case = lifecycle.open_case(session, caller_id=make_caller(), line_id=line_id, channel="call")
    with pytest.raises(TransitionRefused):
        lifecycle.assign_escalation(
            session,
            case,
            assignee_id=None,
            deadline_at=utcnow() + timedelta(days=1),
            operator_id=supervisor,
        )
    lifecycle.escalate(session, case, reason="需要协调", operator_id=None)
    with pytest.raises(InvalidInput, match="future"):
        lifecycle.assign_escalation(
            session,
            case,
            assignee_id=None,
            deadline_at=utcnow() - timedelta(hours=1),
            operator_id=supervisor,
        )
    case.escalation_overdue_alerted_at = utcnow()
    new_deadline = utcnow() + timedelta(days=2)
    lifecycle.assign_escalation(
        session, case, assignee_id=supervisor, deadline_at=new_deadline, operator_id=supervisor
    )
    assert case.escalation_deadline_at == new_deadline
    assert case.escalation_overdue_alerted_at is None, "a new deadline may be alerted again"


def test_operators_get_403_on_supervisor_pages(client, sign_in, make_staff, open_case):
    number = open_case(None)
    sign_in(client, make_staff(Role.OPERATOR))
    assert client.get("/console/cases/escalations").status_code == 403
    assert client.get("/console/cases/review").status_code == 403
    assert client.post(f"/console/cases/{number}/escalation", data={}).status_code == 403
    assert client.post(f"/console/cases/{number}/close").status_code == 403
    assert client.post("/console/callers/1/restriction").status_code == 403
    assert client.post("/console/callers/1/merge").status_code == 403
    assert client.post("/console/callers/1/export").status_code == 403
    assert client.post("/console/callers/1/erase").status_code == 403


def test_a_supervisor_assigns_an_escalation_and_sets_its_deadline(
    app, client, sign_in, make_staff, make_caller, open_case
):
    supervisor = make_staff(Role.SUPERVISOR, display_name="值班长 张敏")
    operator = make_staff(Role.OPERATOR, display_name="坐席 刘芳")
    number = open_case(make_caller(name="王秀英"))
    with app.app_context():
        case = lifecycle.get_case(db.session, number)
        lifecycle.escalate(
            db.session, case, reason="<b>医院</b>不接受电话预约", operator_id=operator
        )
        db.session.commit()
        case_id = case.id
    sign_in(client, supervisor)
    page = client.get("/console/cases/escalations")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and number in body
    assert "&lt;b&gt;医院&lt;/b&gt;" in body, "what operators typed is escaped"
    response = client.post(
        f"/console/cases/{number}/escalation",
        data={
            f"c{case_id}-assignee_id": str(operator),
            f"c{case_id}-deadline_at": "2099-12-01T09:30",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.escalation_assignee_id == operator
        # 09:30 in Shanghai is 01:30 UTC.
        assert case.escalation_deadline_at == datetime(2099, 12, 1, 1, 30, tzinfo=UTC)
    bad = client.post(
        f"/console/cases/{number}/escalation",
        data={f"c{case_id}-assignee_id": "", f"c{case_id}-deadline_at": "next week"},
        follow_redirects=True,
    )
    assert "时间格式不对" in bad.get_data(as_text=True)


def test_the_escalations_page_flags_overdue_ones(app, client, sign_in, make_staff, open_case):
    with time_machine.travel(T0, tick=False):
        number = open_case(None)
        with app.app_context():
            lifecycle.escalate(
                db.session,
                lifecycle.get_case(db.session, number),
                reason="x",
                operator_id=None,
                is_urgent=True,
            )
            db.session.commit()
    supervisor = make_staff(Role.SUPERVISOR)
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        sign_in(client, supervisor, lang="en")  # the session cookie is signed with the time
        body = client.get("/console/cases/escalations").get_data(as_text=True)
    assert 'class="overdue"' in body and "Overdue" in body


def test_the_scenario_review_counts_cases_and_lists_open_difficulties(
    app, client, sign_in, make_staff, make_caller, line_id
):
    with app.app_context(), time_machine.travel(T0, tick=False):
        session = db.session
        for scenario, sub_topic in [
            ("medical", "电话预约挂号"),
            ("medical", "电话预约挂号"),
            ("medical", "家庭医生"),
            ("consumption", "现金支付"),
        ]:
            case = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="call")
            lifecycle.set_scenario(
                session, case, scenario=scenario, sub_topic=sub_topic, operator_id=None
            )
        lifecycle.escalate(session, case, reason="超市拒收现金", operator_id=None)
        unfiled = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="sms")
        resolved = lifecycle.open_case(
            session, caller_id=None, line_id=line_id, channel="call", scenario="medical"
        )
        lifecycle.resolve(session, resolved, outcome="answered", operator_id=None)
        session.commit()
        reviews = {r.scenario: r for r in queries.scenario_review(session, T0.date(), T0.date())}
    assert reviews["medical"].total == 4
    assert reviews["medical"].sub_topics["电话预约挂号"]["total"] == 2
    assert reviews["medical"].by_status == {"open": 3, "resolved": 1}
    assert reviews["consumption"].sub_topics["现金支付"]["escalated"] == 1
    assert [c.number for c in reviews["consumption"].open_escalations] == [case.number]
    assert reviews["travel"].total == 0
    assert [c.number for c in reviews["other"].cases_to_file] == [unfiled.number]

    sign_in(client, make_staff(Role.SUPERVISOR))
    page = client.get(
        "/console/cases/review", query_string={"date_from": "2026-11-29", "date_to": "2026-11-29"}
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "电话预约挂号" in body and "超市拒收现金" in body and case.number in body
    assert unfiled.number in body, "the 'other' bucket lists its cases to be filed"
    assert client.get("/console/cases/review", query_string={"date_from": "x"}).status_code == 400


def test_an_operator_cannot_change_an_escalated_case_but_can_add_notes(
    app, client, sign_in, make_staff, open_case
):
    operator = make_staff()
    number = open_case(None, operator_id=operator)
    with app.app_context():
        lifecycle.escalate(
            db.session, lifecycle.get_case(db.session, number), reason="x", operator_id=operator
        )
        db.session.commit()
    sign_in(client, operator, lang="en")
    refused = client.post(f"/console/cases/{number}/resolve", data={"outcome": "answered"})
    assert refused.status_code == 400
    assert "with a supervisor" in refused.get_data(as_text=True)
    assert (
        client.post(f"/console/cases/{number}/notes", data={"text": "又来电了"}).status_code == 303
    )
    with app.app_context():
        assert lifecycle.get_case(db.session, number).status == CaseStatus.ESCALATED
