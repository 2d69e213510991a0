"""The whole journey in real headless Chromium with no Twilio: a caller on the dev phone presses
0, appears in the operator console in a second page, is taken, both pages show the connection,
the caller hangs up, and the operator opens the case the call created.

The hotline and the local Twilio gateway (hotline.devgateway) run on real ports and talk only
through the twilio SDK (app → gateway REST) and signed /twilio/ webhooks (gateway → app).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from browser import LiveServer
from hotline.callers.models import Caller
from hotline.cases.models import Case
from hotline.db import db
from hotline.operators.models import Operator, Presence, Role

pytestmark = pytest.mark.browser

DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"
LINE = "+861012345678"
CALLER = "+8613123456702"
OPERATOR_PHONE = "+8613123456781"
PASSWORD = "correct horse battery"


@pytest.fixture
def hotline_and_gateway(app_config):
    """The hotline app (CSRF on) and the gateway, each on a real port, wired to each other."""
    from hotline import create_app
    from hotline.devgateway import create_gateway_app

    app_config.update(
        TWILIO_ACCOUNT_SID=DEV_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEV_AUTH_TOKEN,
        HOTLINE_DEV_MODE=True,
        TWILIO_HTTP_CLIENT=None,
        WTF_CSRF_ENABLED=True,
    )
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
        from datetime import time

        from hotline.lines.models import Line

        db.session.add(
            Line(
                key="main",
                name="长者服务热线",
                phone_number=LINE,
                script_key="main",
                is_open_every_day=True,
                opens_at=time(0, 0),
                closes_at=time(0, 0),
            )
        )
        db.session.add(Caller(phone_number=CALLER, name="李建国", display_name="李先生"))
        db.session.add(
            Operator(
                username="lin",
                display_name="林坐席",
                role=Role.OPERATOR,
                password_hash=generate_password_hash(PASSWORD),
                phone_number=OPERATOR_PHONE,
                presence=Presence.AVAILABLE,
            )
        )
        db.session.commit()
    hotline = LiveServer(app.wsgi_app).start()
    holder: dict = {}
    gateway = LiveServer(lambda environ, start: holder["app"](environ, start)).start()
    holder["app"] = create_gateway_app(
        {
            "HOTLINE_URL": hotline.url,
            "TWILIO_ACCOUNT_SID": DEV_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": DEV_AUTH_TOKEN,
            "GATEWAY_PUBLIC_URL": gateway.url,
            "LINES": LINE,
            "AUTO_ANSWER_NUMBERS": OPERATOR_PHONE,
            "GATEWAY_CLOCK": "real",
            "GATEWAY_TIME_SCALE": 20,
            "TESTING": True,
        }
    )
    app.config.update(TWILIO_API_BASE_URL=gateway.url, PUBLIC_BASE_URL=hotline.url)
    yield app, hotline.url, gateway.url
    holder["app"].extensions["devgateway"].shutdown()
    gateway.stop()
    hotline.stop()
    with app.app_context():
        db.engine.dispose()


def test_dev_phone_caller_is_answered_in_the_console_and_a_case_exists(
    hotline_and_gateway, new_page
):
    app, hotline_url, gateway_url = hotline_and_gateway
    phone = new_page()
    console = new_page()

    console.goto(hotline_url + "/console/queue")
    console.fill("#username", "lin")
    console.fill("#password", PASSWORD)
    console.keyboard.press("Enter")
    console.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")

    phone.goto(f"{gateway_url}/phone?number=%2B8613123456702")
    phone.locator("#sound").uncheck()
    phone.locator("#dial").click()
    transcript = phone.locator("#transcript")
    transcript.get_by_text("李先生,您好").first.wait_for()
    transcript.get_by_text("找人工服务,请按0", exact=False).first.wait_for(timeout=15_000)
    phone.locator("body").press("0")
    # In the queue the caller hears where they stand (the status line changes with each prompt).
    transcript.get_by_text("马上为您接通人工服务", exact=False).first.wait_for(timeout=15_000)

    row = console.locator("#queue-body tr[data-entry]").first
    row.wait_for(timeout=3_000)  # the console shows a new caller within 3 s
    assert "李先生" in row.inner_text()
    console.locator("#take-next").click()
    console.wait_for_function(
        "() => document.getElementById('current-state').textContent.includes('通话中')",
        timeout=15_000,
    )
    phone.wait_for_function(
        "document.getElementById('status-main').textContent.includes('会议通话中')", timeout=15_000
    )

    phone.locator("body").press("Escape")  # the caller hangs up
    phone.wait_for_function(
        "document.getElementById('status-main').textContent.includes('空闲')", timeout=15_000
    )
    console.locator("#wrap-up").wait_for(state="visible", timeout=15_000)
    console.locator("#wrapup-case").click()
    console.wait_for_url("**/console/cases/**")
    with app.app_context():
        caller = db.session.scalar(select(Caller).where(Caller.phone_number == CALLER))
        case = db.session.scalar(select(Case).where(Case.caller_id == caller.id))
        assert case is not None, "every answered call becomes a case"
    assert case.number in console.content()
