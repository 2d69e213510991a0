"""Every figure of a hand-computed day (Saturday 28 Nov 2026, Asia/Shanghai, T = 20 s).

Queued calls of the day (local time, wait, how they ended):

    A 00:00:05   5 s answered (medical)     G 13:00   90 s abandoned (travel)
    B 07:30:00  20 s answered (UTC: the     H 14:00  300 s hung up, no outcome -> abandoned
                     day before; exactly T) I 15:00    5 s hung up, no outcome -> short abandon
    C 09:00     45 s answered (medical)     J 16:00  180 s chose a callback -> other exit
    D 10:00    120 s answered               K 17:00   60 s left a voicemail -> other exit
    E 11:00     12 s answered               L 23:59:59 10 s answered (after midnight)
    F 12:00      8 s short abandon          W 18:00  still waiting

Not of the day: a call at 23:59:50 the day before, one at 00:00:00 the day after, an outbound
call, a call that never reached the queue, a call on another line.

By hand: answered 6 (A B C D E L), within 20 s 4 (A B E L); abandoned 2 (G H); short abandons
2 (F I); other exits 2 (J K); offered 6 + 2 + 2 = 10. Service level 4/6 = 67 % of answered,
4/10 = 40 % of offered. ASA (5+20+45+120+12+10)/6 = 35.3 s. Longest wait 300 s (H).
Abandonment rate 2/10 = 20 %. With T = 15 s: within 3 (A E L): 50 % and 30 %.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.calls.models import Call, CallDirection, CallOutcome, CallStatus
from hotline.cases.models import Case, CaseStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.reports import metrics

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 28)
#: The report is taken at 20:30 local time.
NOW = datetime(2026, 11, 28, 20, 30, tzinfo=SHANGHAI).astimezone(UTC)


def local(hour, minute=0, second=0, day=DAY) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI).astimezone(UTC)


def add_call(
    session,
    line_id,
    sid,
    queued,
    *,
    wait,
    answered=False,
    outcome=None,
    scenario=None,
    ended=True,
    direction=CallDirection.INBOUND,
):
    if queued is None:  # never reached the queue: hung up in the menu at 10:00
        queued, menu_only = local(10), True
    else:
        menu_only = False
    call = Call(
        call_sid=sid,
        line_id=line_id,
        direction=direction,
        status=CallStatus.COMPLETED if ended else CallStatus.IN_PROGRESS,
        menu_path=[],
        scenario=scenario,
        queued_at=None if menu_only else queued,
        answered_at=queued + timedelta(seconds=wait) if answered else None,
        ended_at=(queued + timedelta(seconds=wait + (200 if answered else 0))) if ended else None,
        outcome=outcome,
        created_at=queued - timedelta(seconds=30),
    )
    session.add(call)


@pytest.fixture
def fixture_day(app, line_id):
    with app.app_context():
        s = db.session
        other_line = Line(key="east", name="东区热线", phone_number="+861087654321")
        s.add(other_line)
        s.flush()
        add_call(
            s,
            line_id,
            "A",
            local(0, 0, 5),
            wait=5,
            answered=True,
            outcome=CallOutcome.ANSWERED,
            scenario="medical",
        )
        add_call(
            s, line_id, "B", local(7, 30), wait=20, answered=True, outcome=CallOutcome.ANSWERED
        )
        add_call(
            s,
            line_id,
            "C",
            local(9),
            wait=45,
            answered=True,
            outcome=CallOutcome.ANSWERED,
            scenario="medical",
        )
        add_call(s, line_id, "D", local(10), wait=120, answered=True)
        add_call(s, line_id, "E", local(11), wait=12, answered=True, outcome=CallOutcome.ANSWERED)
        add_call(s, line_id, "F", local(12), wait=8, outcome=CallOutcome.SHORT_ABANDON)
        add_call(
            s, line_id, "G", local(13), wait=90, outcome=CallOutcome.ABANDONED, scenario="travel"
        )
        add_call(s, line_id, "H", local(14), wait=300)
        add_call(s, line_id, "I", local(15), wait=5)
        add_call(s, line_id, "J", local(16), wait=180, outcome=CallOutcome.CALLBACK_REQUESTED)
        add_call(s, line_id, "K", local(17), wait=60, outcome=CallOutcome.VOICEMAIL)
        add_call(
            s, line_id, "L", local(23, 59, 59), wait=10, answered=True, outcome=CallOutcome.ANSWERED
        )
        add_call(s, line_id, "W", local(18), wait=0, ended=False)
        # Not of the day.
        add_call(
            s, line_id, "X1", local(23, 59, 50, day=DAY - timedelta(days=1)), wait=5, answered=True
        )
        add_call(
            s, line_id, "X2", local(0, 0, 0, day=DAY + timedelta(days=1)), wait=5, answered=True
        )
        add_call(
            s, line_id, "X3", local(10), wait=5, answered=True, direction=CallDirection.OUTBOUND
        )
        add_call(s, line_id, "X4", None, wait=0, outcome=CallOutcome.HUNG_UP_IN_MENU)
        add_call(s, other_line.id, "X5", local(10), wait=400, outcome=CallOutcome.ABANDONED)

        def callback(status, finished_at, number):
            s.add(
                CallbackRequest(
                    line_id=line_id,
                    phone_number=number,
                    reason=CallbackReason.ABANDONED,
                    status=status,
                    original_arrival_at=local(8),
                    due_at=local(8),
                    completed_at=finished_at,
                )
            )

        callback(CallbackStatus.DONE, local(9), "+8613100000001")
        callback(CallbackStatus.DONE, local(19), "+8613100000002")
        callback(CallbackStatus.DONE, local(19, day=DAY - timedelta(days=1)), "+8613100000003")
        callback(CallbackStatus.FAILED, local(12), "+8613100000004")
        callback(CallbackStatus.CANCELED, local(13), "+8613100000005")
        callback(CallbackStatus.PENDING, None, "+8613100000006")
        callback(CallbackStatus.PENDING, None, "+8613100000007")
        callback(CallbackStatus.DIALING, None, "+8613100000008")

        def case(n, scenario, created, **fields):
            s.add(
                Case(
                    number=f"20261128-{n:04d}",
                    line_id=line_id,
                    scenario=scenario,
                    created_at=created,
                    **fields,
                )
            )

        case(1, "medical", local(9))
        case(
            2,
            "medical",
            local(10),
            status=CaseStatus.ESCALATED,
            escalated_at=local(11),
            escalation_deadline_at=local(19),
        )  # overdue at 20:30
        case(
            3,
            "travel",
            local(11),
            status=CaseStatus.ESCALATED,
            escalated_at=local(12),
            escalation_deadline_at=local(23),
        )
        case(4, "smart_devices", local(12), is_urgent=True)
        case(5, "other", local(13), is_urgent=True, status=CaseStatus.RESOLVED)
        case(6, "medical", local(13, day=DAY - timedelta(days=1)))
        s.commit()
    return line_id


@pytest.fixture
def report(app, fixture_day):
    with app.app_context():
        line = db.session.get(Line, fixture_day)
        return metrics.day_report(db.session, line, DAY, now=NOW)


def test_every_call_figure_of_the_day(report):
    c = report.calls
    assert (c.offered, c.answered, c.abandoned, c.short_abandons, c.other_exits) == (10, 6, 2, 2, 2)
    assert c.waiting_now == 1
    # Service level both ways at T = 20 s.
    assert c.threshold_seconds == 20 and c.answered_within_threshold == 4
    assert c.service_level_answered == pytest.approx(4 / 6)
    assert c.service_level_offered == pytest.approx(4 / 10)
    # Average speed of answer, longest wait, abandonment rate (short abandons excluded).
    assert c.average_speed_of_answer == pytest.approx(212 / 6)
    assert c.longest_wait_seconds == 300
    assert c.abandonment_rate == pytest.approx(0.2)


def test_a_different_threshold_changes_the_service_level(app, fixture_day):
    with app.app_context():
        line = db.session.get(Line, fixture_day)
        line.service_level_seconds = 15
        report = metrics.day_report(db.session, line, DAY, now=NOW)
    assert report.calls.answered_within_threshold == 3
    assert report.calls.service_level_answered == pytest.approx(0.5)
    assert report.calls.service_level_offered == pytest.approx(0.3)


def test_the_short_abandon_threshold_is_the_lines(app, fixture_day):
    """Calls with no recorded outcome are split by Line.abandon_callback_after_seconds."""
    with app.app_context():
        line = db.session.get(Line, fixture_day)
        line.abandon_callback_after_seconds = 4
        report = metrics.day_report(db.session, line, DAY, now=NOW)
    # I (5 s, no outcome) becomes an abandon; F keeps its recorded SHORT_ABANDON.
    assert (report.calls.abandoned, report.calls.short_abandons) == (3, 1)
    assert report.calls.offered == 11


def test_callbacks_and_cases_of_the_day(report):
    cb, cs = report.callbacks, report.cases
    assert (cb.done, cb.pending, cb.failed, cb.canceled) == (2, 3, 1, 1)
    assert (cs.new, cs.escalated, cs.overdue, cs.urgent_open) == (5, 2, 1, 3)


def test_per_scenario_breakdown_and_top_scenarios(report):
    rows = {r.code: (r.cases, r.calls_offered, r.calls_answered) for r in report.scenarios}
    assert rows == {
        "medical": (2, 2, 2),
        "travel": (1, 1, 0),
        "smart_devices": (1, 0, 0),
        "other": (1, 7, 4),
    }
    assert report.top_scenarios[:3] == [("medical", 2), ("other", 1), ("smart_devices", 1)]


def test_the_summary_sms_carries_the_same_figures(app, fixture_day, report):
    from hotline.alerts.summary import summary_text

    with app.app_context():
        line = db.session.get(Line, fixture_day)
        east = db.session.scalar(select(Line).where(Line.key == "east"))
        east.is_active = False  # a single line: texts do not name it
        db.session.commit()
        zh = summary_text(db.session, line, report, "zh", NOW)
        en = summary_text(db.session, line, report, "en", NOW)
    assert zh == (
        "11-28 20:30 日报 来电10 接通6 放弃2 短弃2；20秒接通率 按接通67% 按来电40%；"
        "平均应答35秒 最长等待5分钟；回电完成2 待办3 失败1；新工单5 上报2 逾期1；"
        "就医2 其他1 智能1"
    )
    assert en == (
        "28 Nov 20:30: Daily report: calls 10, answered 6, abandoned 2 (+2 short). "
        "In 20s: 67% of answered, 40% of offered. ASA 35s, longest wait 5 min. "
        "Callbacks done 2, pending 3, failed 1. Cases new 5, escalated 2, overdue 1. "
        "Top: medical 2, other 1, devices 1"
    )


def test_with_several_lines_the_summary_names_the_line(app, fixture_day, report):
    from hotline.alerts.summary import summary_text

    with app.app_context():
        line = db.session.get(Line, fixture_day)
        zh = summary_text(db.session, line, report, "zh", NOW)
        en = summary_text(db.session, line, report, "en", NOW)
    assert zh.startswith("11-28 20:30 长者服务热线 日报 来电10")
    assert en.startswith("28 Nov 20:30: Daily report main: calls 10"), "GSM stays GSM"


def test_seven_day_trend_buckets_calls_by_local_day(app, fixture_day):
    with app.app_context():
        line = db.session.get(Line, fixture_day)
        days = metrics.trend(db.session, line, days=7, now=NOW)
    assert [d.day for d in days] == [DAY - timedelta(days=6 - i) for i in range(7)]
    assert [d.calls.offered for d in days] == [0, 0, 0, 0, 0, 1, 10]
    assert days[-1].calls.service_level_offered == pytest.approx(0.4)


def test_an_empty_day_has_no_rates_rather_than_zero(app, line_id):
    with app.app_context():
        line = db.session.get(Line, line_id)
        report = metrics.day_report(db.session, line, DAY, now=NOW)
    c = report.calls
    assert c.offered == 0
    assert (
        c.service_level_answered,
        c.service_level_offered,
        c.average_speed_of_answer,
        c.abandonment_rate,
        c.longest_wait_seconds,
    ) == (None, None, None, None, None)


def test_local_day_bounds_follow_the_lines_time_zone():
    start, end = metrics.local_day_bounds(DAY, "Asia/Shanghai")
    assert start == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=24)
    # A day with a daylight-saving change is 23 hours long (Europe/Berlin, 29 Mar 2026).
    start, end = metrics.local_day_bounds(date(2026, 3, 29), "Europe/Berlin")
    assert end - start == timedelta(hours=23)
