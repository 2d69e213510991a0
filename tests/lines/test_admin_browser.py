"""From an empty database to an answered call, set up only through the CLI and the console.

Issue 13's whole "done means" in one journey: an administrator is created with `flask operators
create`, signs in in headless Chromium, creates a line with its hours, names two supervisors,
imports ten volunteers from a CSV, and a call through the dev gateway is answered by that line's
script; a local override closing today then closes the line for the next call, without a
restart.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from browser import LiveServer
from hotline.audit import AuditEntry
from hotline.db import Base, db
from hotline.directory.models import Volunteer
from hotline.lines.models import CalendarOverride, Line, LineRecipient
from tests.directory.conftest import roster_csv

pytestmark = pytest.mark.browser

DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"
LINE = "+861012345678"
CALLER = "+8613123456702"
OPERATOR_PHONE = "+8613123456781"
PASSWORD = "correct horse battery"


@pytest.fixture
def empty_hotline_and_gateway(app_config, _suite_pg_url):
    """The hotline (CSRF on, no line at all) and the dev gateway, each on a real port."""
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
        if _suite_pg_url is None:
            db.create_all()
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
        db.session.close()
        if _suite_pg_url is not None:  # the suite's shared database: leave it empty again
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


def _cli(app, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output


def _call_and_hear(new_page, gateway_url: str, words: str) -> None:
    phone = new_page()
    phone.goto(f"{gateway_url}/phone?number=%2B8613123456702")
    phone.locator("#sound").uncheck()
    phone.locator("#dial").click()
    phone.locator("#transcript").get_by_text(words, exact=False).first.wait_for(timeout=15_000)
    phone.locator("body").press("Escape")
    phone.context.close()


def test_an_administrator_sets_up_a_line_without_sql(empty_hotline_and_gateway, new_page):
    app, hotline_url, gateway_url = empty_hotline_and_gateway
    _cli(app, "operators", "create", "boss", "--role", "admin", "--password", PASSWORD)
    for name, phone in (("zhang", "+8613800000001"), ("li", "+8613800000002")):
        _cli(app, "operators", "create", name, "--role", "supervisor", "--phone", phone,
             "--password", PASSWORD)  # fmt: skip
    _cli(app, "operators", "create", "lin", "--phone", OPERATOR_PHONE, "--password", PASSWORD)

    console = new_page(locale="en-GB")
    console.goto(hotline_url + "/console/admin/lines")  # signs in first, then comes back
    console.fill("#username", "boss")
    console.fill("#password", PASSWORD)
    console.keyboard.press("Enter")
    # The readiness check, in the browser's language.
    console.get_by_text("No active line", exact=False).wait_for()
    console.get_by_role("link", name="New line").click()

    console.fill("#f-key", "changzhe")
    console.fill("#f-name", "长者服务热线")
    console.fill("#f-phone_number", "010 1234 5678")
    console.select_option("#f-script_key", "nomenu")
    console.select_option("#f-open_days", "working")
    console.check("#f-mode_usual")  # open all day on working days
    console.select_option("#f-mode_sat", "closed")
    console.fill("#f-callback_window", "09:00-19:00")
    console.fill("#f-callback_retry_delays", "2h,30m")  # not increasing: refused
    console.keyboard.press("Enter")
    console.locator("#e-callback_retry_delays").wait_for()
    assert "each delay must be longer" in console.locator("#e-callback_retry_delays").inner_text()
    with app.app_context():
        assert db.session.scalar(select(Line)) is None, "a refused form changes nothing"
    console.fill("#f-callback_retry_delays", "30m,2h,next_working_day")
    console.locator("button[type=submit]", has_text="Save").first.click()
    console.get_by_text("Saved; it applies from the next call.").wait_for()

    # Who is told what: zhang gets the summary and long waits, li urgent cases.
    with app.app_context():
        ids = dict(db.session.execute(select(Line.key, Line.id)).all())
        from hotline.operators.models import Operator

        people = dict(db.session.execute(select(Operator.username, Operator.id)).all())
    console.check(f"input[name=summary_{people['zhang']}]")
    console.check(f"input[name=alert_{people['zhang']}_long_wait]")
    console.check(f"input[name=alert_{people['li']}_urgent_case]")
    console.get_by_role("button", name="Save recipients").click()
    console.get_by_text("Recipients saved.").wait_for()

    # Ten volunteers of 邻里守望 from a CSV (checked first, then imported).
    console.goto(f"{hotline_url}/console/directory/volunteers")
    console.set_input_files(
        "#import-file",
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": roster_csv(10).encode()}],
    )
    console.click("#import-form button[type=submit]")
    console.click("text=Import the 10 valid rows")
    console.get_by_text("10 volunteers imported.").wait_for()

    # The line is open today (all day on a working day, or on the weekend? see the override).
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    with app.app_context():
        line = db.session.get(Line, ids["changzhe"])
        from hotline.lines.calendar import LineCalendar

        open_today = LineCalendar.load(db.session, line).hours_on(today) is not None
    console.goto(f"{hotline_url}/console/admin/lines/{ids['changzhe']}/calendar")
    if not open_today:
        # A weekend or a holiday: open it for today with a local override first.
        console.fill("#o-day", today.isoformat())
        console.select_option("#o-open", "open")
        console.fill("#o-note", "Open for the test")
        console.get_by_role("button", name="Add").click()
        console.get_by_text("Added.").wait_for()
    _call_and_hear(new_page, gateway_url, "请说您要办的事")  # the no-menu intake, open

    # A holiday override: closed today for a local event; the next call hears it at once.
    console.goto(f"{hotline_url}/console/admin/lines/{ids['changzhe']}/calendar")
    console.fill("#o-day", today.isoformat())
    console.select_option("#o-open", "closed")
    console.fill("#o-note", "Community event")
    console.get_by_role("button", name="Add").click()
    console.get_by_text("Added.").wait_for()
    assert "Community event" in console.content()
    _call_and_hear(new_page, gateway_url, "现在是下班时间")

    with app.app_context():
        assert db.session.scalar(select(Line.phone_number)) == LINE
        assert db.session.scalar(select(CalendarOverride.note)) == "Community event"
        assert len(db.session.scalars(select(LineRecipient)).all()) == 2
        assert len(db.session.scalars(select(Volunteer)).all()) == 10
        entities = set(db.session.scalars(select(AuditEntry.entity)))
        assert {"line", "line_recipients", "calendar_override", "volunteer"} <= entities
