"""The browser pages: served, escaped, and (with Chromium) usable end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.devgateway import create_gateway_app

from .harness import ELDER, LINE, StandIn, twiml

STATIC = Path(__file__).resolve().parents[2] / "hotline" / "devgateway" / "static" / "devgateway"


@pytest.fixture
def client():
    """A Flask test client of a gateway that never calls anybody."""
    app = create_gateway_app({"HOTLINE_URL": "http://127.0.0.1:9", "GATEWAY_CLOCK": "manual", "TESTING": True,
                              "DEV_PHONE_IDENTITIES": "<script>alert(1)</script>=+8613123456701"})  # fmt: skip
    yield app.test_client()
    app.extensions["devgateway"].shutdown()


def test_index_lists_identities_escaped(client):
    """Labels come from configuration: escaped like everything else."""
    page = client.get("/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "/phone?number=%2B8613123456701" in page


def test_phone_page_escapes_the_number_from_the_query_string(client):
    """?number= is user input."""
    page = client.get('/phone?number="><script>x</script>').get_data(as_text=True)
    assert "<script>x</script>" not in page
    assert 'data-number="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in page


def test_pages_and_static_files_are_served(client):
    """Index, phone, developer page, scripts and styles."""
    for path in ("/", "/phone", "/dev", "/healthz", "/devgateway-static/devgateway/phone.js",
                 "/devgateway-static/devgateway/dev.js", "/devgateway-static/devgateway/style.css"):  # fmt: skip
        with client.get(path) as response:
            assert response.status_code == 200, path


def test_scripts_never_put_data_into_the_page_as_html():
    """textContent only: no innerHTML, outerHTML, insertAdjacentHTML or document.write."""
    for script in STATIC.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source), (
            script.name
        )


def test_the_json_api_lists_the_configuration(client):
    """Lines and identities for scripts and the phone."""
    config = client.get("/api/config").get_json()
    assert config["lines"] == ["+861012345678"]
    assert config["identities"][0]["number"] == "+8613123456701"
    assert config["clock"] == "manual"


@pytest.fixture
def browser(chromium):
    """The suite's one headless Chromium (tests/browser.py): two Playwright drivers cannot run
    in one process."""
    return chromium


@pytest.mark.browser
def test_a_caller_dials_hears_the_prompt_presses_a_key_and_hangs_up(
    standin: StandIn, gateway_factory, browser
):
    """Headless Chromium on the dev phone page, real (scaled) clock, keyboard only."""
    from playwright.sync_api import expect

    gateway = gateway_factory(GATEWAY_CLOCK="real", GATEWAY_TIME_SCALE=4)
    standin.route(
        "/twilio/voice",
        twiml('<Gather numDigits="1" action="/input" timeout="60"><Say language="zh-CN">'
              "&lt;img src=x onerror=alert(1)&gt;您好，请按1</Say></Gather>"),
    )  # fmt: skip
    standin.route("/input", twiml('<Say language="zh-CN">谢谢</Say><Pause length="200"/>'))
    page = browser.new_page()
    try:
        page.goto(f"{gateway.url}/phone?number=%2B8613123456701")
        expect(page.locator("#registration")).to_contain_text("已在线")
        page.locator("#sound").uncheck()
        page.locator("#dial").click()
        transcript = page.locator("#transcript")
        expect(transcript).to_contain_text("<img src=x onerror=alert(1)>您好，请按1")
        assert page.locator("#transcript img").count() == 0
        page.locator("body").press("1")
        expect(transcript).to_contain_text("谢谢")
        assert standin.last("/input")["Digits"] == "1"
        expect(page.locator("#status-main")).to_contain_text("通话中")
        page.locator("body").press("Escape")
        expect(page.locator("#status-main")).to_contain_text("空闲")
        page.goto(f"{gateway.url}/dev")
        expect(page.locator("#calls")).to_contain_text(ELDER + " → " + LINE)
        expect(page.locator("#exchanges")).to_contain_text("/input")
    finally:
        page.close()


@pytest.mark.browser
def test_the_operator_phone_rings_answers_and_reads_sms(
    standin: StandIn, gateway_factory, browser, twilio_client
):
    """An outbound call rings the open page; Enter answers; an SMS lands in the inbox, escaped."""
    from playwright.sync_api import expect

    gateway = gateway_factory(GATEWAY_CLOCK="real", GATEWAY_TIME_SCALE=4)
    twilio_client.api.base_url = gateway.url
    standin.route(
        "/callback", twiml('<Say language="zh-CN">这里是长者热线回电</Say><Pause length="200"/>')
    )
    page = browser.new_page()
    try:
        page.goto(f"{gateway.url}/phone?number=%2B8613123456701")
        expect(page.locator("#registration")).to_contain_text("已在线")
        page.locator("#sound").uncheck()
        twilio_client.calls.create(to=ELDER, from_=LINE, url=standin.url + "/callback")
        expect(page.locator("#incoming")).to_be_visible()
        expect(page.locator("#incoming-from")).to_have_text(LINE)
        page.locator("body").press("Enter")
        expect(page.locator("#transcript")).to_contain_text("这里是长者热线回电")
        expect(page.locator("#incoming")).to_be_hidden()
        twilio_client.messages.create(to=ELDER, from_=LINE, body="<b>案件 A-1</b> 明天回电")
        expect(page.locator("#inbox")).to_contain_text("<b>案件 A-1</b> 明天回电")
        assert page.locator("#inbox b").count() == 0
    finally:
        page.close()
