"""The day's check-in figures count the elders still due later that day (before the clock has
opened their window and created their day), on the supervisor page, the today page and in the
daily summary SMS, which says how many are still to call (待访 / "to call") only when some are."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from hotline.alerts.summary import send_summary, summary_text
from hotline.checkins import queries, service
from hotline.checkins.models import EpisodeStatus
from hotline.operators.models import Role
from hotline.reports import metrics
from hotline.sms.models import SmsMessage, SmsPurpose
from tests import factories
from tests.checkins.episodes import local, make_episode
from tests.checkins.test_console import elder, sign_in

#: Saturday 5 December 2026 in Shanghai.
DAY = date(2026, 12, 5)


@pytest.fixture
def saturday(session, time_machine):
    """At 09:30: one elder already OK, one whose window is open but not yet swept, one due at
    15:00, and three not due today (window already over when enrolled, paused, not a chosen
    day)."""
    time_machine.move_to("2026-12-05T09:30:00+08:00", tick=False)
    _c, ok = elder(session, 1)
    make_episode(session, ok, DAY, EpisodeStatus.OK, attempts=1, answered_at=local(DAY, 9, 5))
    elder(session, 2)  # 09:00-11:00, the clock has not swept yet
    elder(session, 3, window_start=time(15), window_end=time(16))
    elder(session, 4, window_start=time(7), window_end=time(8))  # over before enrolment
    _c, paused = elder(session, 5, window_start=time(18), window_end=time(19))
    service.pause(session, paused, until=DAY, operator_id=None, today=DAY)
    elder(session, 6, calendar_rule="chosen_days", days_of_week=[0, 2], window_start=time(10))
    session.commit()
    return factories.main_line(session)


def test_the_figures_count_the_elders_still_due_later_today(session, saturday):
    figures = queries.day_figures(session, saturday, DAY)
    assert figures == queries.CheckinFigures(due=3, done=1, ok=1, pending=2, later=2)


def test_once_every_window_has_ended_nobody_is_due_later(session, saturday, time_machine):
    time_machine.move_to("2026-12-05T21:00:00+08:00", tick=False)
    assert queries.day_figures(session, saturday, DAY) == queries.CheckinFigures(
        due=1, done=1, ok=1
    )
    assert queries.day_figures(session, saturday, DAY - timedelta(days=1)).due == 0


def test_the_summary_says_how_many_are_still_to_call(session, saturday, time_machine):
    time_machine.move_to("2026-12-05T12:00:00+08:00", tick=False)  # the 15:00 elder is left
    report = metrics.day_report(session, saturday, DAY, now=local(DAY, 12))
    zh = summary_text(session, saturday, report, "zh", local(DAY, 12))
    en = summary_text(session, saturday, report, "en", local(DAY, 12))
    assert zh.endswith("；回访完成1 平安1 未接0 联系上0 未结0 待访1"), zh
    assert en.endswith(" Check-ins done 1, OK 1, missed 0, reached 0, open 0, to call 1."), en

    time_machine.move_to("2026-12-05T20:30:00+08:00", tick=False)
    factories.make_operator(
        session, role=Role.SUPERVISOR, phone_number="+8613800000001", console_language="zh"
    )
    session.commit()
    row = send_summary(session, saturday, DAY, now=local(DAY, 20, 30))
    assert row.metrics["checkins"]["due"] == 1 and row.metrics["checkins"]["later"] == 0
    body = session.scalars(
        select(SmsMessage.body).where(SmsMessage.purpose == SmsPurpose.SUPERVISOR_SUMMARY)
    ).one()
    assert body.endswith("；回访完成1 平安1 未接0 联系上0 未结0"), "nobody left to call"


def test_the_supervisor_and_today_pages_show_them(app, client, session, saturday):
    sign_in(client, session, Role.SUPERVISOR)
    page = client.get("/console/reports/").get_data(as_text=True)
    for key, value in [("due", 3), ("done", 1), ("pending", 2), ("later", 2)]:
        assert f'id="m-ck-{key}">{value}<' in page, key
    assert "Check-ins done 1, OK 1, missed 0, reached 0, open 0, to call 2." in page
    page = client.get("/console/checkins/").get_data(as_text=True)
    for key, value in [("due", 3), ("pending", 2), ("scheduled", 2)]:
        assert f'id="f-{key}">{value}<' in page, key
    scheduled = page[page.index('id="rows-scheduled"') :]
    assert "老人2" in scheduled and "老人3" in scheduled
    for name in ("老人4", "老人5", "老人6"):
        assert name not in scheduled, name
