"""In headless Chromium, with CSRF on: an administrator imports ten volunteers from a CSV (one
bad row reported, then the valid rows confirmed) and adds an agency; an operator refers a case
to a volunteer picked from the roster (the elder's district first) and the offer SMS is queued."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hotline.cases import lifecycle
from hotline.cases.models import Referral
from hotline.db import db
from hotline.directory.models import Agency, Volunteer
from hotline.operators.models import Role
from hotline.sms.models import SmsMessage, SmsPurpose
from tests import factories
from tests.directory.conftest import roster_csv

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
def test_admin_imports_the_roster_and_an_operator_refers_to_a_volunteer(
    app, live_server, new_page, staff
):
    staff(Role.ADMIN, username="admin", password=PASSWORD, console_language="en")
    staff(Role.OPERATOR, username="liu", password=PASSWORD)
    with app.app_context():
        elder = factories.make_caller(db.session, district="西城街道", display_name="王阿姨")
        case = lifecycle.open_or_continue_case(
            db.session,
            caller_id=elder.id,
            line_id=factories.main_line(db.session).id,
            channel="call",
        )
        db.session.commit()
        case_number = case.number

    admin = new_page(locale="en-US")
    _sign_in(admin, live_server.url, "admin", "/console/directory/volunteers")
    admin.wait_for_selector("#import-file")
    csv_text = roster_csv(10, bad_rows=("坏行,not-a-phone,,,,,yes,2026-03-01,in_writing",))
    admin.set_input_files(
        "#import-file",
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}],
    )
    admin.click("#import-form button[type=submit]")
    admin.wait_for_selector("#bad-rows")
    assert "10 rows can be imported, 1 have problems." in admin.inner_text("#import-summary")
    assert "not a valid phone number" in admin.inner_text("#bad-rows")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Volunteer)) == 0
    admin.click("text=Import the 10 valid rows")
    admin.wait_for_selector("text=10 volunteers imported.")
    assert admin.locator("#volunteers tbody tr").count() == 10

    admin.goto(f"{live_server.url}/console/directory/agencies")
    admin.fill("#agency-name", "市急救中心")
    admin.select_option("#agency-kind", "medical")
    admin.fill("#agency-phone", "120")
    admin.click("#new-agency button[type=submit]")
    admin.wait_for_selector("#agency-phone-errors")
    assert "only for the emergency kind" in admin.inner_text("#agency-phone-errors")
    admin.select_option("#agency-kind", "emergency")
    admin.click("#new-agency button[type=submit]")
    admin.wait_for_selector("text=Agency added.")
    assert "市急救中心" in admin.inner_text("#agencies")

    operator = new_page()
    _sign_in(operator, live_server.url, "liu", f"/console/cases/{case_number}")
    operator.wait_for_selector("#refer-volunteer")
    options = operator.locator("#refer-volunteer option").all_inner_texts()
    assert "西城街道" in options[1], "the elder's district comes first"
    first = operator.locator("#refer-volunteer option").nth(1).get_attribute("value")
    operator.select_option("#refer-volunteer", first)
    operator.fill("#refer-reason", "陪同去医院")
    operator.click("text=记录转介")
    operator.wait_for_selector("text=已记录转介。")
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        volunteer = db.session.get(Volunteer, int(first))
        assert volunteer.district == "西城街道"
        assert referral.target_number == volunteer.phone_number
        sms = db.session.get(SmsMessage, referral.sms_id)
        assert sms.purpose == SmsPurpose.REFERRAL and sms.to_number == volunteer.phone_number
        assert db.session.scalar(select(func.count()).select_from(Agency)) == 1
