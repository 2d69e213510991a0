"""Routing in real headless Chromium: a Cantonese caller is offered to the Cantonese operator
first, the row says why ("粤语 · 等了 …"), and "take the next caller" takes them."""

from __future__ import annotations

import pytest

from hotline.db import db
from hotline.queue.models import QueueEntry, QueueStatus

from .queue_support import *  # noqa: F403
from .queue_support import PASSWORD, entry_of, reach_queue

pytestmark = pytest.mark.browser


def test_a_cantonese_caller_is_offered_to_the_cantonese_operator_first(
    csrf_on, live_server, page, app, twilio, http_client, make_operator
):
    operator_id = make_operator("chan", display_name="陈坐席", languages=["yue-HK"])
    mandarin = reach_queue(twilio, app, from_="+8613800000011")
    cantonese = reach_queue(twilio, app, from_="+8613800000012")
    with app.app_context():
        db.session.get(QueueEntry, cantonese.entry_id).language = "yue-HK"
        db.session.commit()

    page.goto(live_server.url + "/console/queue")
    page.fill("#username", "chan")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")

    assert page.locator("#my-skills").inner_text() == "我的语言:粤语 · 我的线路:所有线路"
    first = page.locator(f'tr[data-entry="{mandarin.entry_id}"]')
    second = page.locator(f'tr[data-entry="{cantonese.entry_id}"]')
    first.wait_for(timeout=3000)
    # Both are shown (either may be picked by hand); only the Cantonese caller is offered.
    assert second.locator(".offer-reason").inner_text().startswith("粤语 · 等了 ")
    assert second.locator(".next-for-me-tag").inner_text() == "下一位"
    assert first.locator(".offer-reason").count() == 0
    assert first.locator(".next-for-me-tag").count() == 0

    page.click("#take-next")
    page.locator("#current-call").wait_for(state="visible", timeout=3000)
    assert page.locator("#current-language").inner_text() == "粤语"
    assert entry_of(app, cantonese.entry_id).operator_id == operator_id
    assert entry_of(app, mandarin.entry_id).status == QueueStatus.WAITING
