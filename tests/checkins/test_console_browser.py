"""In headless Chromium, with CSRF on: an operator enrols an elder in check-ins from the caller
page, first with a bad form (the errors show next to their fields, nothing is saved), then a
good one; today's page shows the elder's due check-in, and the history strip a missed day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.checkins.models import CheckinEnrolment, EpisodeStatus
from hotline.db import db
from hotline.operators.models import Role
from hotline.timeutil import local_day, utcnow
from tests import factories
from tests.checkins.episodes import make_episode, missed

PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(app_config):
    """This module's app checks CSRF tokens, as in production."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.mark.browser
def test_operator_enrols_an_elder_and_sees_the_due_check_in_and_a_missed_day(
    app, live_server, page
):
    with app.app_context():
        factories.make_operator(db.session, "liu", role=Role.OPERATOR, password=PASSWORD)
        elder = factories.make_caller(
            db.session, phone_number="+861055550201", display_name="王阿姨", district="东城街道"
        )
        factories.make_volunteer(db.session, name="李志愿", district="东城街道")
        factories.make_volunteer(
            db.session, name="赵志愿", phone_number="+8613800000198", district="西城街道"
        )
        db.session.commit()
        elder_id = elder.id

    base = live_server.url
    page.goto(f"{base}/console/login?next=/console/callers/{elder_id}")
    page.fill("#username", "liu")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#checkins")
    assert "未加入关爱回访。" in page.inner_text("#checkins")
    page.click("#enrol-link")
    page.wait_for_selector("#enrol-form")
    options = page.locator("#enrol-volunteer option").all_inner_texts()
    assert options[1] == "李志愿 · 东城街道", "the elder's district first"

    # A bad form: the window ends before it starts, no witness, no volunteer.
    page.fill("#enrol-window-start", "10:00")
    page.fill("#enrol-window-end", "09:00")
    yesterday = (utcnow() + timedelta(hours=8) - timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    page.fill("#enrol-consented-at", yesterday)
    page.select_option("#enrol-consent-method", "elder_in_person")
    page.click("#enrol-submit")
    page.wait_for_selector("#enrol-witness-errors")
    assert "请填写见证人" in page.inner_text("#enrol-witness-errors")
    assert "结束时间须晚于开始时间。" in page.inner_text("#enrol-window-end-errors")
    assert "请从名册中选择负责探访的志愿者。" in page.inner_text("#enrol-volunteer-errors")
    assert page.get_attribute("#enrol-witness", "aria-invalid") == "true"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckinEnrolment)) == 0

    # The good one (what was typed is kept).
    assert page.input_value("#enrol-window-start") == "10:00"
    page.fill("#enrol-window-start", "00:00")
    page.fill("#enrol-window-end", "23:59")
    page.select_option("#enrol-volunteer", label="李志愿 · 东城街道")
    page.fill("#enrol-witness", "社区网格员 周敏")
    page.click("#enrol-submit")
    page.wait_for_selector("text=已加入关爱回访。")
    assert page.inner_text("#enrolment-status") == "进行中"

    with app.app_context():
        enrolment = db.session.scalar(select(CheckinEnrolment))
        assert enrolment.consent_witness == "社区网格员 周敏"
        today = local_day(utcnow(), "Asia/Shanghai")
        # What the clock and the cascade leave behind: today's call due, yesterday missed.
        make_episode(db.session, enrolment, today, EpisodeStatus.DUE)
        make_episode(
            db.session,
            enrolment,
            today - timedelta(days=1),
            EpisodeStatus.UNREACHABLE,
            **missed(today - timedelta(days=1)),
        )
        db.session.commit()

    page.click("nav >> text=关爱回访")
    page.wait_for_selector("#rows-pending")
    row = page.locator("#rows-pending tbody tr")
    assert row.count() == 1
    assert "王阿姨" in row.inner_text() and "待呼叫" in row.inner_text()
    assert page.inner_text("#f-due") == "1"

    page.goto(f"{base}/console/callers/{elder_id}")
    page.wait_for_selector("#caller-history-strip")
    missed_day = (today - timedelta(days=1)).isoformat()
    cell = page.locator(f'#caller-history-strip li[data-day="{missed_day}"]')
    assert cell.get_attribute("data-state") == "missed"
    assert "未接通" in cell.get_attribute("title")
    assert page.locator('#caller-history-strip li[data-state="missed"]').count() == 1
