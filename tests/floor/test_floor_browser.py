"""The floor in real headless Chromium: (a) a Cantonese caller (their language corrected on an
earlier case) is offered to the Cantonese operator first with the reason shown, while the
Mandarin-only operator is offered the Mandarin caller behind them; (b) the supervisor's live
board and the day report's table sort by a click on their headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.callers.models import Caller
from hotline.db import db
from hotline.operators.models import AwayReason, Presence, Role
from hotline.queue.models import QueueStatus
from tests import factories
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import PASSWORD, entry_of, reach_queue

pytestmark = pytest.mark.browser

CANTONESE_CALLER = "+861055550131"
MANDARIN_CALLER = "+861055550132"


def _sign_in(page, base_url: str, path: str, username: str) -> None:
    page.goto(base_url + path)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{path}*")


def test_a_corrected_cantonese_caller_goes_to_the_cantonese_operator_first(
    csrf_on, live_server, new_page, app, twilio, http_client, make_operator
):
    chan = make_operator("chan", display_name="陈坐席", languages=["yue-HK"])
    liu = make_operator(
        "liu", display_name="刘坐席", languages=["zh-CN"], phone_number="+861055550182"
    )
    # On an earlier case the Mandarin operator heard Cantonese and corrected the caller's
    # language on the case screen.
    with app.app_context():
        caller = Caller(phone_number=CANTONESE_CALLER, language="zh-CN")
        db.session.add(caller)
        db.session.flush()
        earlier = factories.make_case(
            db.session, caller_id=caller.id, line_id=factories.main_line(db.session).id
        )
        db.session.commit()
        case_number = earlier.number
    chan_page, liu_page = new_page(), new_page()
    _sign_in(liu_page, live_server.url, f"/console/cases/{case_number}", "liu")
    liu_page.fill("#caller-language", "粤语")
    liu_page.click("#caller-language-form button[type=submit]")
    liu_page.wait_for_url("**#caller")
    assert "下次来电按它分配坐席" in liu_page.locator(".flash").inner_text()
    with app.app_context():
        assert db.session.get(Caller, caller.id).routing_language == "yue-HK"
    # The Cantonese caller arrives first, the Mandarin caller after them.
    cantonese = reach_queue(twilio, app, from_=CANTONESE_CALLER)
    mandarin = reach_queue(twilio, app, from_=MANDARIN_CALLER)
    assert entry_of(app, cantonese.entry_id).language == "yue-HK"
    assert entry_of(app, mandarin.entry_id).language == "zh-CN"

    _sign_in(chan_page, live_server.url, "/console/queue", "chan")
    liu_page.goto(live_server.url + "/console/queue")
    for page in (chan_page, liu_page):
        page.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")

    first = chan_page.locator(f'tr[data-entry="{cantonese.entry_id}"]')
    first.wait_for(timeout=3000)
    assert first.locator(".offer-reason").inner_text().startswith("粤语 · 等了 ")
    assert first.locator(".next-for-me-tag").inner_text() == "下一位"
    assert chan_page.locator(f'tr[data-entry="{mandarin.entry_id}"] .offer-reason').count() == 0

    # The Mandarin-only operator sees both, but the Cantonese caller is not offered to them
    # (not before the line's threshold): their next is the Mandarin caller behind.
    liu_page.locator(f'tr[data-entry="{mandarin.entry_id}"]').wait_for(timeout=3000)
    assert liu_page.locator(f'tr[data-entry="{cantonese.entry_id}"] .offer-reason').count() == 0
    assert liu_page.locator(f'tr[data-entry="{cantonese.entry_id}"] .next-for-me-tag').count() == 0
    mandarin_row = liu_page.locator(f'tr[data-entry="{mandarin.entry_id}"]')
    assert mandarin_row.locator(".offer-reason").inner_text().startswith("普通话 · 等了 ")
    assert mandarin_row.locator(".next-for-me-tag").inner_text() == "下一位"

    liu_page.click("#take-next")
    liu_page.locator("#current-call").wait_for(state="visible", timeout=3000)
    assert liu_page.locator("#current-language").inner_text() == "普通话"
    assert entry_of(app, mandarin.entry_id).operator_id == liu
    assert entry_of(app, cantonese.entry_id).status == QueueStatus.WAITING

    chan_page.click("#take-next")
    chan_page.locator("#current-call").wait_for(state="visible", timeout=3000)
    assert chan_page.locator("#current-language").inner_text() == "粤语"
    assert entry_of(app, cantonese.entry_id).operator_id == chan


def test_an_operator_takes_a_break_with_a_reason_and_extends_a_wrap_up(
    csrf_on, live_server, page, app, make_operator
):
    from hotline.operators import presence
    from hotline.operators.models import Operator

    operator_id = make_operator("lin", display_name="林坐席")
    _sign_in(page, live_server.url, "/console/queue", "lin")
    page.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")
    page.select_option("#away-reason", "training")
    page.click("#set-away")
    page.wait_for_function(
        "() => document.getElementById('my-presence').textContent === '暂离 · 培训'"
    )
    page.click("#set-available")
    page.wait_for_function("() => document.getElementById('my-presence').textContent === '空闲'")

    # A call ended: wrap-up with the line's 60 s, counting down; "+60 s" gives a minute more.
    with app.app_context():
        operator = db.session.get(Operator, operator_id)
        presence.mark(operator, Presence.WRAP_UP, wrap_up_seconds=60)
        db.session.commit()
    page.locator("#wrap-up").wait_for(state="visible", timeout=3000)
    page.wait_for_function(
        "() => /^(5\\d|60) 秒后自动结束整理$/.test(document.getElementById('wrapup-left').textContent)"
    )
    page.click("#wrap-up-extend")
    page.wait_for_function(
        "() => /^1[01]\\d 秒后自动结束整理$/.test(document.getElementById('wrapup-left').textContent)"
    )
    page.click("#wrap-up-done")
    page.locator("#wrap-up").wait_for(state="hidden", timeout=3000)
    with app.app_context():
        assert db.session.get(Operator, operator_id).presence == Presence.AVAILABLE


DAY = "2026-03-02"


def _day_figures(app, operators: dict[str, int]) -> None:
    """Calls on 2 March 2026 (UTC morning = Shanghai afternoon): 刘芳 3 short ones, 赵强 one
    long one, 陈静 two."""
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        for name, talks in (("刘芳", (60, 90, 120)), ("赵强", (900,)), ("陈静", (300, 200))):
            for i, seconds in enumerate(talks):
                call = factories.make_call(session, line_id=line.id, caller_id=None)
                connected = start + timedelta(minutes=20 * i)
                factories.make_handled_entry(
                    session,
                    line_id=line.id,
                    call_id=call.id,
                    operator_id=operators[name],
                    talk_seconds=seconds,
                    ended_at=connected + timedelta(seconds=seconds),
                )
        session.commit()


def _column(page, table: str) -> list[str]:
    return page.locator(f"#{table} tbody tr th").all_inner_texts()


def test_the_supervisors_live_board_and_the_day_report_sort(
    csrf_on, live_server, page, app, make_operator
):
    make_operator("boss", display_name="值班长", role=Role.SUPERVISOR, presence=Presence.OFFLINE)
    operators = {
        "刘芳": make_operator("liu", display_name="刘芳", presence=Presence.BUSY),
        "赵强": make_operator(
            "zhao", display_name="赵强", presence=Presence.AWAY, away_reason=AwayReason.MEAL
        ),
        "陈静": make_operator("chen", display_name="陈静", presence=Presence.AVAILABLE),
    }
    _day_figures(app, operators)

    _sign_in(page, live_server.url, "/console/floor/board", "boss")
    page.wait_for_selector("#floor-board[data-loaded='1']")
    # By state first: on a call, available, away (the supervisor's own console is closed).
    assert _column(page, "board-table")[:3] == ["刘芳", "陈静", "赵强"]
    zhao = page.locator(f'#board-table tr[data-operator="{operators["赵强"]}"]')
    assert "暂离" in zhao.inner_text() and "用餐" in zhao.inner_text()
    page.click("#board-table th button[data-key=name]")
    # Chinese names sort by their pinyin: chen, liu, zhao, zhi.
    ascending = ["陈静", "刘芳", "赵强", "值班长"]
    assert _column(page, "board-table") == ascending
    page.click("#board-table th button[data-key=name]")
    assert _column(page, "board-table") == list(reversed(ascending))
    assert (
        page.locator("#board-table th[aria-sort=descending] button").get_attribute("data-key")
        == "name"
    )
    # The sort holds across the next poll (rows are redrawn every 2 s).
    page.wait_for_timeout(2300)
    assert _column(page, "board-table") == list(reversed(ascending))

    page.goto(live_server.url + f"/console/floor/day?day={DAY}")
    assert page.locator("#day-chart rect").count() == 3
    page.click("#day-table th button[data-key=calls]")
    assert _column(page, "day-table") == ["赵强", "陈静", "刘芳"]
    page.click("#day-table th button[data-key=calls]")
    assert _column(page, "day-table") == ["刘芳", "陈静", "赵强"]
    page.click("#day-table th button[data-key=longest]")
    assert _column(page, "day-table") == ["刘芳", "陈静", "赵强"]  # 120, 300, 900 s
    page.click("#day-table th button[data-key=talk]")
    assert _column(page, "day-table") == ["刘芳", "陈静", "赵强"]  # 90, 250, 900 s
    page.click("#day-table th button[data-key=talk]")
    assert _column(page, "day-table") == ["赵强", "陈静", "刘芳"]
    assert page.locator("#day-csv").get_attribute("href").endswith(f"day={DAY}&period=day")
