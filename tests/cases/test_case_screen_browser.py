"""The case screen in real headless Chromium, with CSRF on: an operator opens the case from a
taken call, sets the scenario, adds a note, schedules a callback and escalates; a supervisor
assigns the escalation and resolves the case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.cases.models import AuditEntry, Case, CaseNote, CaseStatus
from hotline.db import db
from hotline.operators.models import Role

PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(app_config):
    """This module's app checks CSRF tokens, as in production."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _sign_in(page, base_url: str, username: str, next_path: str):
    page.goto(f"{base_url}/console/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")


@pytest.mark.browser
def test_operator_works_a_case_from_a_taken_call_and_a_supervisor_resolves_it(
    app, live_server, new_page, make_staff, make_caller, make_call
):
    operator = make_staff(
        Role.OPERATOR, username="liu", password=PASSWORD, display_name="坐席 刘芳"
    )
    make_staff(
        Role.SUPERVISOR,
        username="zhang",
        password=PASSWORD,
        display_name="值班长 张敏",
        console_language="en",
    )
    caller = make_caller(
        phone_number="+8613800138000",
        name="王秀英",
        display_name="<i>王阿姨</i>",
        is_older_caller=True,
    )
    _call_id, sid = make_call(caller, answered_at=datetime.now(UTC))

    # The queue console links a taken call to its case screen.
    page = new_page()
    _sign_in(page, live_server.url, "liu", f"/console/cases/for-call/{sid}")
    page.click("#open-case")  # opening the case is a POST form, never a GET
    page.wait_for_selector("#case-title")
    assert page.locator(".caller-name a").inner_text() == "<i>王阿姨</i>", "rendered as text"
    assert page.locator("text=老年来电人").count() >= 1
    number = page.locator(".case-number").inner_text()

    # Scenario: a quick button, reached and pressed with the keyboard.
    medical = page.locator('#scenario button[value="medical"]')
    medical.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector('#scenario button[value="medical"][aria-pressed="true"]')
    assert "就医" in page.locator("#current-scenario").inner_text()
    # Enter in the sub-topic field saves it and keeps the scenario.
    page.fill("#sub-topic", "电话预约挂号")
    page.press("#sub-topic", "Enter")
    page.wait_for_selector("#current-scenario >> text=电话预约挂号")
    assert page.locator("#current-scenario").inner_text() == "就医 · 电话预约挂号"

    # A note (typed text with markup stays text).
    page.fill("#note-text", "想约下周三心内科 <b>不会用App</b>")
    page.click("text=添加备注")
    page.wait_for_selector("text=备注已添加。")
    assert page.locator(".note-text").first.inner_text() == "想约下周三心内科 <b>不会用App</b>"

    # A blank note (the browser's own `required` check lets spaces through) is refused by the
    # server with a clear message next to the field.
    page.fill("#note-text", "   ")
    page.click("text=添加备注")
    page.wait_for_selector("#note-text-errors >> text=请先写备注内容。")
    assert page.get_attribute("#note-text", "aria-invalid") == "true"

    # Call back at a chosen time.
    page.fill("#callback-at", "2099-06-01T15:30")
    page.fill("#callback-note", "下午她女儿在家")
    page.click("text=安排回电")
    page.wait_for_selector("text=回电已安排。")

    # Escalate (困难上报), urgent.
    page.fill("#escalate-reason", "医院不接受电话预约,需要协调")
    page.check("#escalate-urgent")
    page.click("text=上报值班负责人")
    page.wait_for_selector("text=已上报值班负责人。")
    assert page.locator(".case-head .status-escalated").count() == 1

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.number == number))
        assert (case.scenario, case.sub_topic) == ("medical", "电话预约挂号")
        assert case.status == CaseStatus.ESCALATED and case.is_urgent
        assert case.owner_id == operator
        assert [n.text for n in db.session.scalars(select(CaseNote))] == [
            "想约下周三心内科 <b>不会用App</b>"
        ]
        callback = db.session.scalar(select(CallbackRequest))
        assert callback.reason == CallbackReason.OPERATOR and callback.case_id == case.id
        assert callback.due_at == datetime(2099, 6, 1, 7, 30, tzinfo=UTC)
        actions = db.session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "case", AuditEntry.entity_id == case.id
            )
        ).all()
        assert {
            "opened",
            "status_changed",
            "scenario_set",
            "note_added",
            "callback_scheduled",
            "escalated",
        } <= set(actions)

    # The supervisor sees the escalation, assigns it with a deadline, and resolves the case.
    boss = new_page(locale="en-US")
    _sign_in(boss, live_server.url, "zhang", "/console/cases/escalations")
    row = boss.locator(f"#escalation-{number}")
    row.wait_for()
    assert "医院不接受电话预约" in row.inner_text()
    row.locator("select").select_option(label="坐席 刘芳")
    row.locator('input[type="datetime-local"]').fill("2099-06-02T12:00")
    row.locator("button").click()
    boss.wait_for_selector(f"text=Case {number} assigned.")
    boss.locator(f"#escalation-{number} a").first.click()
    boss.wait_for_selector("#case-title")
    boss.select_option("#resolve-outcome", "handled_on_behalf")
    boss.fill("#resolve-note", "社区工作人员陪同挂号")
    boss.click("text=Mark resolved")
    boss.wait_for_selector("text=Case resolved.")

    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.number == number))
        assert case.status == CaseStatus.RESOLVED and case.outcome.value == "handled_on_behalf"
        assert case.escalation_assignee_id == operator
        assert case.escalation_deadline_at == datetime(2099, 6, 2, 4, 0, tzinfo=UTC)


@pytest.mark.browser
def test_an_operator_is_refused_the_supervisor_pages(live_server, new_page, make_staff):
    make_staff(Role.OPERATOR, username="liu", password=PASSWORD)
    page = new_page()
    _sign_in(page, live_server.url, "liu", "/console/cases")
    page.wait_for_selector("#search-title")
    assert page.locator('nav a:has-text("困难上报")').count() == 0
    response = page.goto(f"{live_server.url}/console/cases/escalations")
    assert response.status == 403
