"""The daily summary SMS: at the configured local time per line, once per line and day."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sms.fixtures import LINE_NUMBER, PUBLIC_URL, SUPERVISOR_PHONE
from sqlalchemy import func, select

from hotline.db import db
from hotline.reports.models import DailySummary
from hotline.sms.models import SmsMessage, SmsPurpose

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN_PHONE = "+8613800000002"


def at(hour, minute=0, day=28) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def supervisors(make_supervisor):
    make_supervisor("zhang", SUPERVISOR_PHONE, "zh")
    make_supervisor("li", EN_PHONE, "en")


def _summaries(app) -> list[SmsMessage]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(SmsMessage)
                .where(SmsMessage.purpose == SmsPurpose.SUPERVISOR_SUMMARY)
                .order_by(SmsMessage.id)
            )
        )


def test_summary_goes_out_at_the_configured_local_time_once(
    app, line_id, supervisors, clock, texts_sent, time_machine
):
    time_machine.move_to(at(20, 29), tick=False)
    clock.summaries()
    assert _summaries(app) == []
    time_machine.move_to(at(20, 30), tick=False)
    for _ in range(3):
        clock.summaries()
    clock.send()
    assert [(m.to_number, m.language) for m in _summaries(app)] == [
        (SUPERVISOR_PHONE, "zh"),
        (EN_PHONE, "en"),
    ]
    sent = texts_sent()
    assert [t["To"] for t in sent] == [SUPERVISOR_PHONE, EN_PHONE]
    assert sent[0] == {
        "To": SUPERVISOR_PHONE,
        "From": LINE_NUMBER,
        "Body": "11-28 20:30 日报 来电0 接通0 放弃0 短弃0；20秒接通率 按接通- 按来电-；"
        "平均应答- 最长等待-；回电完成0 待办0 失败0；新工单0 上报0 逾期0",
        "StatusCallback": f"{PUBLIC_URL}/twilio/sms/status",
    }
    assert sent[1]["Body"].startswith("28 Nov 20:30: Daily report: calls 0, answered 0")
    time_machine.move_to(at(23, 50), tick=False)
    clock.summaries()
    assert len(_summaries(app)) == 2, "once a day"
    time_machine.move_to(at(20, 30, day=29), tick=False)
    clock.summaries()
    assert len(_summaries(app)) == 4, "and again the next evening"
    with app.app_context():
        days = db.session.scalars(select(DailySummary.local_day).order_by(DailySummary.id)).all()
    assert [d.isoformat() for d in days] == ["2026-11-28", "2026-11-29"]


def test_each_line_has_its_own_time(app, line_id, supervisors, clock, time_machine):
    app.config["REPORTS_SUMMARY_AT_BY_LINE"] = {"main": "18:00"}
    time_machine.move_to(at(18, 0), tick=False)
    clock.summaries()
    assert len(_summaries(app)) == 2


def test_a_clock_back_late_the_same_evening_still_sends_it(
    app, line_id, supervisors, clock, time_machine
):
    time_machine.move_to(at(23, 10), tick=False)
    clock.summaries()
    assert len(_summaries(app)) == 2


def test_a_missed_day_is_not_sent_the_next_morning(app, line_id, supervisors, clock, time_machine):
    # The clock was down from before 20:30 until 01:00 the next day.
    time_machine.move_to(at(1, 0, day=29), tick=False)
    clock.summaries()
    assert _summaries(app) == []


def test_no_registered_supervisor_means_the_day_is_recorded_without_texts(
    app, line_id, clock, time_machine
):
    time_machine.move_to(at(21, 0), tick=False)
    clock.summaries()
    with app.app_context():
        row = db.session.scalar(select(DailySummary))
        assert row.recipients == 0 and row.metrics["calls"]["offered"] == 0
        assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0


def test_flask_reports_summary_prints_todays_text(app, line_id, runner, time_machine):
    time_machine.move_to(at(9, 0), tick=False)
    result = runner.invoke(args=["reports", "summary", "--lang", "en"])
    assert result.exit_code == 0
    assert "[main] 28 Nov 09:00: Daily report: calls 0" in result.output
    assert "(GSM-7," in result.output
