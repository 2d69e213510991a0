"""A simulated day on the line, with the web (signed webhooks) and the clock (its real jobs):
the summary SMS goes out at 20:30 with the right figures, and each alert fires once and
recovers once."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sms.fixtures import SUPERVISOR_PHONE, sms_params
from sqlalchemy import func, select

from hotline.calls.models import Call, CallDirection, CallOutcome, CallStatus
from hotline.cases.models import Case, CaseStatus
from hotline.db import db
from hotline.sms.models import SmsMessage, SmsPurpose

SHANGHAI = ZoneInfo("Asia/Shanghai")
EN_PHONE = "+8613800000002"


def at(hour, minute=0, second=0) -> datetime:
    return datetime(2026, 11, 28, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


class Line:
    """Calls reaching the queue, answered or hung up, through the queue feature's functions."""

    def __init__(self, app, line_id):
        self.app, self.line_id, self.count = app, line_id, 0

    def arrive(self) -> int:
        from hotline.queue import service as queue

        self.count += 1
        with self.app.app_context():
            call = Call(
                call_sid=f"CA{self.count:032d}",
                line_id=self.line_id,
                direction=CallDirection.INBOUND,
                status=CallStatus.IN_PROGRESS,
                from_number=f"+8613123{self.count:06d}",
                menu_path=[],
            )
            db.session.add(call)
            db.session.flush()
            queue.enqueue(db.session, call, None, reason="key_0")
            db.session.commit()
            return call.id

    def answer(self, call_id: int) -> None:
        """An operator picks up (what the queue's operator_answered writes)."""
        from hotline.queue import service as queue
        from hotline.queue.models import QueueEntry, QueueStatus

        with self.app.app_context():
            entry = db.session.scalar(select(QueueEntry).where(QueueEntry.call_id == call_id))
            now = datetime.now(UTC)
            assert queue.transition(
                db.session, entry, (QueueStatus.WAITING,), QueueStatus.CONNECTED, connected_at=now
            )
            call = db.session.get(Call, call_id)
            call.answered_at, call.outcome = now, CallOutcome.ANSWERED
            db.session.commit()

    def end(self, call_id: int) -> None:
        """The caller hangs up: in the queue (abandoned) or after talking."""
        from hotline.queue import service as queue
        from hotline.queue.models import QueueEntry

        with self.app.app_context():
            entry = db.session.scalar(select(QueueEntry).where(QueueEntry.call_id == call_id))
            call = db.session.get(Call, call_id)
            if call.answered_at is None:
                queue.caller_gone(db.session, entry)
            else:
                queue.conversation_over(db.session, entry)
            call.status, call.ended_at = CallStatus.COMPLETED, datetime.now(UTC)
            db.session.commit()


def test_a_day_on_the_line(app, line_id, make_supervisor, clock, twilio, texts_sent, time_machine):
    make_supervisor("zhang", SUPERVISOR_PHONE, "zh")
    make_supervisor("li", EN_PHONE, "en")
    line = Line(app, line_id)

    def go(hour, minute=0, second=0):
        time_machine.move_to(at(hour, minute, second), tick=False)

    def tick():
        """One round of the clock (its outbox sweep is also its sign of life)."""
        clock.send()
        clock.summaries()
        clock.alerts()
        clock.send()

    go(8)
    tick()
    # 09:00-09:45: ten callers, each answered within 10 s.
    for i in range(10):
        go(9, 5 * i)
        call = line.arrive()
        go(9, 5 * i, 10)
        line.answer(call)
        go(9, 5 * i + 3)
        line.end(call)
        tick()
    # 10:00: one caller waits and nobody answers; after 5 minutes the supervisors are told.
    go(10)
    waiting = line.arrive()
    for minute in (3, 6, 8):
        go(10, minute)
        tick()
    go(10, 10)
    line.end(waiting)  # hung up after 10 minutes: abandoned (and owed a callback)
    for minute in (11, 12):
        go(10, minute)
        tick()
    # 11:00-11:25: six callers answered after a minute each; service level falls.
    for i in range(6):
        go(11, 5 * i)
        call = line.arrive()
        go(11, 5 * i + 1)
        line.answer(call)
        go(11, 5 * i + 3)
        line.end(call)
    go(11, 35)
    tick()
    go(11, 40)
    tick()
    # 12:40: no calls for an hour; the service level alert clears.
    go(12, 40)
    tick()
    # 13:00: an elder texts for a callback; a supervisor asks for the status.
    go(13)
    twilio.post("/twilio/sms", sms_params("回电"))
    twilio.post("/twilio/sms", sms_params("状态", from_=SUPERVISOR_PHONE))
    tick()
    # 14:00: an urgent case; 15:00 it is resolved.
    go(14)
    with app.app_context():
        case = db.session.scalar(select(Case))
        case.is_urgent = True
        db.session.commit()
    tick()
    go(15)
    with app.app_context():
        db.session.get(Case, case.id).status = CaseStatus.RESOLVED
        db.session.commit()
    tick()
    tick()
    # The evening: nothing at 20:29, the summary at 20:30, and only once.
    for hour, minute in ((20, 29), (20, 30), (20, 31), (23, 0)):
        go(hour, minute)
        tick()

    with app.app_context():
        alert_kinds = db.session.scalars(
            select(SmsMessage.kind)
            .where(
                SmsMessage.purpose == SmsPurpose.SUPERVISOR_ALERT,
                SmsMessage.to_number == SUPERVISOR_PHONE,
            )
            .order_by(SmsMessage.id)
        ).all()
        new_cases = db.session.scalar(select(func.count()).select_from(Case))
    assert alert_kinds == [
        "alert_long_wait",
        "recovered_long_wait",
        "alert_service_level",
        "recovered_service_level",
        "alert_urgent_case",
        "recovered_urgent_case",
    ]

    to_zh = [t["Body"] for t in texts_sent() if t["To"] == SUPERVISOR_PHONE]
    to_en = [t["Body"] for t in texts_sent() if t["To"] == EN_PHONE]
    assert to_zh[0] == "11-28 10:06 告警：有来电者已等待6分钟，排队1人，空闲坐席0人。"
    assert to_zh[2] == "11-28 11:35 告警：近1小时来电6个，20秒接通率0%，低于目标80%。"
    assert to_zh[4].startswith("11-28 13:00 排队0 最长- 空闲坐席0；今日来电17 接通16")
    summaries_zh = [b for b in to_zh if "日报" in b]
    summaries_en = [b for b in to_en if "Daily report" in b]
    assert len(summaries_zh) == len(summaries_en) == 1
    # By hand: 17 offered (10 + 1 + 6), 16 answered, 1 abandoned (600 s); 10 of them within
    # 20 s: 10/16 = 62.5 % -> 63 % of answered, 10/17 = 59 % of offered; ASA (10*10 + 6*60)/16
    # = 28.75 s -> 29 s. Callbacks: the abandoned caller's and the texted one, both pending.
    assert summaries_zh[0] == (
        "11-28 20:30 日报 来电17 接通16 放弃1 短弃0；20秒接通率 按接通63% 按来电59%；"
        f"平均应答29秒 最长等待10分钟；回电完成0 待办2 失败0；新工单{new_cases} 上报0 逾期0"
        + ("；其他" + str(new_cases) if new_cases else "")
    )
    assert summaries_en[0].startswith(
        "28 Nov 20:30: Daily report: calls 17, answered 16, abandoned 1 (+0 short). "
        "In 20s: 63% of answered, 59% of offered. ASA 29s, longest wait 10 min. "
        "Callbacks done 0, pending 2, failed 0."
    )
