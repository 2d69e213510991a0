"""A family proxy in the operator's console, in real headless Chromium (issue 17, item 6): the
waiting row and the current call both say whose family member is calling."""

from __future__ import annotations

import pytest

from bench.first_minute import Journey, prepare

from .queue_support import *  # noqa: F403
from .queue_support import PASSWORD, reach_queue

pytestmark = pytest.mark.browser


def test_the_console_shows_a_family_proxy_with_the_elders_name(
    csrf_on, live_server, page, app, twilio, http_client, make_operator
):
    make_operator("lin", display_name="林坐席")
    page.goto(live_server.url + "/console/queue")
    page.fill("#username", "lin")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")

    number = prepare(app, Journey("family", "zh-CN", (), "family"))
    queued = reach_queue(twilio, app, from_=number)
    row = page.locator(f'tr[data-entry="{queued.entry_id}"]')
    row.wait_for(timeout=3000)
    assert row.locator(".family-of").inner_text() == "家属代办 · 王阿姨"

    row.locator("button.take-one").click()
    page.locator("#current-call").wait_for(state="visible", timeout=3000)
    assert page.locator("#current-family").inner_text() == "家属代办 · 王阿姨"
