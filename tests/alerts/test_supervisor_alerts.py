"""Supervisor alerts: each condition alerts once per window and recovers once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sms.fixtures import CALLER_PHONE, SUPERVISOR_PHONE
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.calls.models import Call, CallDirection, CallStatus
from hotline.cases.models import Case, CaseStatus
from hotline.db import db
from hotline.sms.models import SmsMessage, SmsPurpose, SmsStatus, SupervisorAlert

EN_SUPERVISOR_PHONE = "+8613800000002"


@pytest.fixture
def supervisors(make_supervisor):
    make_supervisor("zhang", SUPERVISOR_PHONE, "zh")
    make_supervisor("li", EN_SUPERVISOR_PHONE, "en")


def _alert_texts(app) -> list[SmsMessage]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(SmsMessage)
                .where(SmsMessage.purpose == SmsPurpose.SUPERVISOR_ALERT)
                .order_by(SmsMessage.id)
            )
        )


def _kinds(app) -> list[str]:
    return [m.kind for m in _alert_texts(app) if m.to_number == SUPERVISOR_PHONE]


def _enqueue(app, line_id, sid="CA" + "q" * 32):
    """A caller reaches the operator queue now (through the queue feature)."""
    from hotline.queue import service as queue

    with app.app_context():
        call = Call(
            call_sid=sid,
            line_id=line_id,
            direction=CallDirection.INBOUND,
            status=CallStatus.IN_PROGRESS,
            from_number=CALLER_PHONE,
            menu_path=[],
        )
        db.session.add(call)
        db.session.flush()
        queue.enqueue(db.session, call, None, reason="key_0")
        db.session.commit()
        return call.id


def _hang_up(app, call_id):
    from hotline.queue import service as queue
    from hotline.queue.models import QueueEntry

    with app.app_context():
        entry = db.session.scalar(select(QueueEntry).where(QueueEntry.call_id == call_id))
        queue.caller_gone(db.session, entry)
        call = db.session.get(Call, call_id)
        call.status, call.ended_at = CallStatus.COMPLETED, entry.ended_at
        db.session.commit()


def test_a_long_wait_alerts_once_and_recovers_once(
    app, line_id, supervisors, clock, texts_sent, now, time_machine
):
    call_id = _enqueue(app, line_id)
    time_machine.move_to(now + timedelta(minutes=4), tick=False)
    clock.alerts()
    assert _alert_texts(app) == [], "4 minutes is within the limit (5)"

    time_machine.move_to(now + timedelta(minutes=5, seconds=2), tick=False)
    for _ in range(3):
        clock.alerts()
    texts = _alert_texts(app)
    assert [(m.to_number, m.kind) for m in texts] == [
        (SUPERVISOR_PHONE, "alert_long_wait"),
        (EN_SUPERVISOR_PHONE, "alert_long_wait"),
    ]
    assert texts[0].body == "11-29 14:10 告警：有来电者已等待5分02秒，排队1人，空闲坐席0人。"
    assert texts[1].body == (
        "29 Nov 14:10: ALERT: a caller has waited 5m02s; 1 waiting, 0 operators free."
    )
    clock.send()
    assert [t["To"] for t in texts_sent()] == [SUPERVISOR_PHONE, EN_SUPERVISOR_PHONE]

    _hang_up(app, call_id)
    time_machine.move_to(now + timedelta(minutes=6), tick=False)
    for _ in range(3):
        clock.alerts()
    assert _kinds(app) == ["alert_long_wait", "recovered_long_wait"]
    assert _alert_texts(app)[-2].body == "11-29 14:11 恢复：已没有人等待超过5分钟。"
    with app.app_context():
        (episode,) = db.session.scalars(select(SupervisorAlert)).all()
        assert not episode.is_active and episode.recovered_at == now + timedelta(minutes=6)


def test_the_same_condition_does_not_alert_again_within_the_window(
    app, line_id, supervisors, clock, now, time_machine
):
    first = _enqueue(app, line_id, "CA" + "1" * 32)
    time_machine.move_to(now + timedelta(minutes=6), tick=False)
    clock.alerts()
    _hang_up(app, first)
    clock.alerts()
    # A new long wait 20 minutes later: still inside the hour's window, so no new alert...
    time_machine.move_to(now + timedelta(minutes=20), tick=False)
    second = _enqueue(app, line_id, "CA" + "2" * 32)
    time_machine.move_to(now + timedelta(minutes=26), tick=False)
    clock.alerts()
    assert _kinds(app) == ["alert_long_wait", "recovered_long_wait"]
    # ...but once the hour since the first alert is over, and it still fires, it alerts again.
    time_machine.move_to(now + timedelta(minutes=66), tick=False)
    clock.alerts()
    assert _kinds(app) == ["alert_long_wait", "recovered_long_wait", "alert_long_wait"]
    _hang_up(app, second)
    clock.alerts()
    assert _kinds(app)[-1] == "recovered_long_wait"


def _answered_call(app, line_id, sid, *, queued, wait_seconds):
    with app.app_context():
        db.session.add(
            Call(
                call_sid=sid,
                line_id=line_id,
                direction=CallDirection.INBOUND,
                status=CallStatus.COMPLETED,
                menu_path=[],
                queued_at=queued,
                answered_at=queued + timedelta(seconds=wait_seconds),
                ended_at=queued + timedelta(seconds=wait_seconds + 120),
            )
        )
        db.session.commit()


def test_service_level_below_target_over_the_last_hour(
    app, line_id, supervisors, clock, now, time_machine
):
    # Six calls in the last hour, two answered within 20 s: 33 % < 80 %.
    for i, wait in enumerate((5, 15, 40, 60, 90, 120)):
        _answered_call(
            app, line_id, f"CA{i:032d}", queued=now - timedelta(minutes=50 - i), wait_seconds=wait
        )
    clock.alerts()
    clock.alerts()
    texts = [m for m in _alert_texts(app) if m.to_number == SUPERVISOR_PHONE]
    assert [m.kind for m in texts] == ["alert_service_level"]
    assert texts[0].body == "11-29 14:05 告警：近1小时来电6个，20秒接通率33%，低于目标80%。"
    # An hour later the slow calls are out of the window and the new ones are quick.
    for i in range(5):
        _answered_call(
            app, line_id, f"CB{i:032d}", queued=now + timedelta(minutes=20 + i), wait_seconds=8
        )
    time_machine.move_to(now + timedelta(minutes=65), tick=False)
    clock.alerts()
    clock.alerts()
    texts = [m for m in _alert_texts(app) if m.to_number == SUPERVISOR_PHONE]
    assert [m.kind for m in texts] == ["alert_service_level", "recovered_service_level"]
    assert texts[1].body == "11-29 15:10 恢复：近1小时20秒接通率100%（目标80%）。"


def test_too_few_calls_do_not_make_a_service_level_alert(app, line_id, supervisors, clock, now):
    for i in range(4):
        _answered_call(
            app, line_id, f"CA{i:032d}", queued=now - timedelta(minutes=10), wait_seconds=300
        )
    clock.alerts()
    assert _alert_texts(app) == []


def test_callbacks_failing_repeatedly(app, line_id, supervisors, clock, now, time_machine):
    with app.app_context():
        for i in range(3):
            db.session.add(
                CallbackRequest(
                    line_id=line_id,
                    phone_number=f"+86131234567{i:02d}",
                    reason=CallbackReason.ABANDONED,
                    status=CallbackStatus.FAILED,
                    original_arrival_at=now - timedelta(hours=3),
                    due_at=now - timedelta(hours=2),
                    attempts=3,
                    last_outcome="no_answer",
                    completed_at=now - timedelta(minutes=10 * i),
                )
            )
        db.session.commit()
    clock.alerts()
    texts = [m for m in _alert_texts(app) if m.to_number == SUPERVISOR_PHONE]
    assert [m.kind for m in texts] == ["alert_callbacks_failing"]
    assert "近1小时有3个回电没有打通，其中3个已放弃" in texts[0].body
    time_machine.move_to(now + timedelta(minutes=61), tick=False)
    clock.alerts()
    clock.alerts()
    assert _kinds(app) == ["alert_callbacks_failing", "recovered_callbacks_failing"]


def _case(app, line_id, **fields) -> int:
    with app.app_context():
        case = Case(number=fields.pop("number", "20261129-0007"), line_id=line_id, **fields)
        db.session.add(case)
        db.session.commit()
        return case.id


def test_an_urgent_case_alerts_with_its_number_first_and_recovers_when_resolved(
    app, line_id, supervisors, clock, now
):
    case_id = _case(app, line_id, scenario="emergency", is_urgent=True, summary="独居老人摔倒")
    clock.alerts()
    clock.alerts()
    texts = [m for m in _alert_texts(app) if m.to_number == SUPERVISOR_PHONE]
    assert [m.kind for m in texts] == ["alert_urgent_case"]
    assert (
        texts[0].body
        == "工单20261129-0007 11-29 14:05 告警：紧急工单，应急。独居老人摔倒。请尽快处理。"
    )
    assert texts[0].case_id == case_id
    with app.app_context():
        db.session.get(Case, case_id).status = CaseStatus.RESOLVED
        db.session.commit()
    clock.alerts()
    clock.alerts()
    assert _kinds(app) == ["alert_urgent_case", "recovered_urgent_case"]


def test_an_overdue_escalation_alerts_once_and_is_marked_on_the_case(
    app, line_id, supervisors, clock, now
):
    case_id = _case(
        app,
        line_id,
        status=CaseStatus.ESCALATED,
        escalated_at=now - timedelta(hours=30),
        escalation_deadline_at=now - timedelta(hours=6),
    )
    clock.alerts()
    clock.alerts()
    kinds = _kinds(app)
    assert sorted(kinds) == ["alert_overdue_escalation", "alert_urgent_case"], (
        "an escalated case is alerted as escalated, and again when its deadline passes"
    )
    overdue = next(
        m
        for m in _alert_texts(app)
        if m.kind == "alert_overdue_escalation" and m.to_number == SUPERVISOR_PHONE
    )
    assert overdue.body == "工单20261129-0007 11-29 14:05 告警：上报已逾期6小时未处理，请尽快处理。"
    with app.app_context():
        assert db.session.get(Case, case_id).escalation_overdue_alerted_at == now


def test_an_opted_out_supervisor_gets_no_alerts(app, line_id, make_supervisor, clock, now):
    from hotline.sms.models import OptOutSource
    from hotline.sms.outbox import mark_opted_out

    make_supervisor()
    with app.app_context():
        mark_opted_out(db.session, SUPERVISOR_PHONE, source=OptOutSource.KEYWORD, trigger="TD")
        db.session.commit()
    _case(app, line_id, is_urgent=True)
    clock.alerts()
    (text,) = _alert_texts(app)
    assert text.status == SmsStatus.REFUSED and text.status_reason.startswith("opted out (TD)")


# --------------------------------------------------------------------------- the silent clock


def _clock_was_alive(app):
    """The clock's last signs of life: its heartbeat and an outbox sweep, now."""
    from hotline import clock as clock_module
    from hotline.sms.jobs import send_outbox

    with app.app_context():
        clock_module.heartbeat(app)
        send_outbox(app)


def test_the_supervisor_page_raises_the_clock_silent_alert_and_sends_it_at_once(
    app, line_id, make_supervisor, client, texts_sent, now, time_machine
):
    make_supervisor(password="supervisor pass 1")
    _clock_was_alive(app)
    client.post("/console/login", data={"username": "zhang", "password": "supervisor pass 1"})
    time_machine.move_to(now + timedelta(minutes=4), tick=False)
    assert client.get("/console/reports/").status_code == 200
    assert texts_sent() == []

    time_machine.move_to(now + timedelta(minutes=6), tick=False)
    page = client.get("/console/reports/").get_data(as_text=True)
    assert "后台定时进程已停止" in page
    (sent,) = texts_sent()
    assert sent["To"] == SUPERVISOR_PHONE
    assert sent["Body"] == (
        "11-29 14:11 告警：后台定时进程已6分钟没有运行，回电和短信可能已停止，请检查服务器。"
    )
    client.get("/console/reports/")
    assert len(texts_sent()) == 1, "one alert per window"


def test_the_cli_check_raises_the_clock_silent_alert_for_cron(
    app, line_id, make_supervisor, runner, texts_sent, now, time_machine
):
    make_supervisor()
    _clock_was_alive(app)
    result = runner.invoke(args=["sms", "check-clock"])
    assert result.exit_code == 0 and '"clock_silent": false' in result.output
    # Time runs (tick=True): the alert is queued a moment after the check began and must
    # still be sent at once.
    time_machine.move_to(now + timedelta(minutes=10), tick=True)
    result = runner.invoke(args=["sms", "check-clock"])
    assert result.exit_code == 1 and '"raised": ["clock_silent"]' in result.output
    assert len(texts_sent()) == 1
    assert runner.invoke(args=["sms", "check-clock"]).exit_code == 1
    assert len(texts_sent()) == 1, "the second check does not text again"

    # The clock comes back: its next rounds recover the alert, once.
    time_machine.move_to(now + timedelta(minutes=10), tick=False)
    _clock_was_alive(app)
    from hotline.alerts.jobs import update_alerts

    with app.app_context():
        update_alerts(app)
        update_alerts(app)
    _clock_was_alive(app)
    bodies = [t["Body"] for t in texts_sent()]
    assert bodies[1:] == ["11-29 14:15 恢复：后台定时进程已恢复运行。"]


def test_a_clock_never_seen_is_not_called_silent(app, line_id, make_supervisor, runner):
    make_supervisor()
    result = runner.invoke(args=["sms", "check-clock"])
    assert result.exit_code == 0
