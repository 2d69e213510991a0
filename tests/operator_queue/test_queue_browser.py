"""The operator's journey in real headless Chromium, CSRF on: sign in, a caller appears within
3 s (with an alert), take them with the keyboard, see the connected state, hang up, wrap up.
What the caller said, markup included, is shown as inert text."""

from __future__ import annotations

import time

import pytest

from .queue_support import *  # noqa: F403
from .queue_support import PASSWORD, entry_of, reach_queue

pytestmark = pytest.mark.browser

MARKUP = '<img src=x onerror="window.__pwned=1">人工'


def _sign_in(page, base_url: str) -> None:
    page.goto(base_url + "/console/queue")
    page.fill("#username", "lin")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")


def test_operator_takes_a_caller_in_the_browser(
    csrf_on, live_server, page, app, twilio, http_client, make_operator, make_caller
):
    operator_id = make_operator("lin", display_name="林坐席")
    make_caller(phone_number="+8613123456741", display_name="<b>王阿姨</b>", is_older_caller=True)
    _sign_in(page, live_server.url)
    assert page.locator("#my-presence").inner_text() == "空闲"
    assert page.locator("#queue-empty").is_visible()

    started = time.monotonic()
    queued = reach_queue(twilio, app, from_="+8613123456741", speech=MARKUP)
    row = page.locator(f'tr[data-entry="{queued.entry_id}"]')
    row.wait_for(timeout=3000)
    assert time.monotonic() - started < 3.5  # the webhooks themselves take a moment too

    # Visible (and audible, where the browser allows sound) alert for the new caller.
    page.locator("#new-caller-alert").wait_for(state="visible", timeout=3000)
    assert page.evaluate("window.hotlineQueue.alerts") >= 1
    # Names and words are text, never markup.
    assert row.locator(".caller-name").inner_text() == "<b>王阿姨</b>"
    assert row.locator("td.said").inner_text() == MARKUP
    assert page.locator("#queue-body img, #queue-body b").count() == 0
    assert page.evaluate("window.__pwned") is None

    # Keyboard only: focus the row's button and press Enter.
    row.locator("button.take-one").focus()
    page.keyboard.press("Enter")
    page.locator("#current-call").wait_for(state="visible", timeout=3000)
    page.wait_for_function(
        "() => document.getElementById('current-state').textContent.includes('正在拨打您的电话')"
    )
    ring, dequeue = http_client.requests
    assert ring.data["To"] == ["+8613123456781"]
    assert dequeue.url.endswith(f"/Members/{queued.sid}.json")

    # The operator's phone answers: Twilio fetches the operator leg's TwiML.
    leg = entry_of(app, queued.entry_id).operator_call_sid
    twilio.post(
        f"/twilio/queue/operator?entry={queued.entry_id}&op={operator_id}",
        twilio.call_params(
            leg, from_="+861012345678", to="+8613123456781", CallStatus="in-progress"
        ),
    )
    page.wait_for_function(
        "() => document.getElementById('current-state').textContent.startsWith('通话中')",
        timeout=3000,
    )
    assert page.locator("#current-name").inner_text() == "<b>王阿姨</b>"
    assert page.locator("#current-said").inner_text() == MARKUP
    assert page.locator("#my-presence").inner_text() == "通话中"

    page.click("#hangup")
    page.locator("#wrap-up").wait_for(state="visible", timeout=3000)
    assert http_client.requests[-1].data == {"Status": ["completed"]}
    assert page.locator("#my-presence").inner_text() == "整理中"
    page.click("#wrap-up-done")
    page.wait_for_function(
        "() => document.getElementById('my-presence').textContent === '空闲'", timeout=3000
    )
    assert page.locator("#wrap-up").is_hidden()


def test_a_second_operator_is_told_clearly_when_the_caller_was_taken(
    csrf_on, live_server, new_page, app, twilio, http_client, make_operator
):
    make_operator("lin", display_name="林坐席")
    make_operator("zhao", display_name="Zhao", phone_number="+8613123456782", console_language="en")
    first, second = new_page(), new_page(locale="en-US")
    _sign_in(first, live_server.url)
    second.goto(live_server.url + "/console/queue")
    second.fill("#username", "zhao")
    second.fill("#password", PASSWORD)
    second.keyboard.press("Enter")
    second.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")
    queued = reach_queue(twilio, app)
    for page in (first, second):
        page.locator(f'tr[data-entry="{queued.entry_id}"]').wait_for(timeout=3000)
    # Freeze the second console's view (as if its next poll had not come yet).
    stale = second.evaluate("JSON.stringify(window.hotlineQueue.state)")
    second.route(
        "**/console/api/queue",
        lambda route: route.fulfill(body=stale, content_type="application/json"),
    )
    first.locator("button.take-one").click()
    first.locator("#current-call").wait_for(state="visible", timeout=3000)
    second.locator("button.take-one").click()
    message = second.locator("#queue-message")
    message.wait_for(state="visible", timeout=3000)
    assert message.inner_text() == "Another operator has already taken this caller."
    assert http_client.requests and len(http_client.find("POST", "/Calls.json")) == 1
