"""Queue order (priority, then original arrival) and the estimated-wait arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from hotline.callers.models import Caller
from hotline.calls.models import Call, CallDirection, CallStatus
from hotline.lines.models import Line
from hotline.queue import service
from hotline.queue.models import QueueEntry
from hotline.queue.service import Priority, estimate_wait_seconds
from hotline.queue.twiml import spoken_minutes, texts_for, wait_prompts

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
_sids = itertools.count(1)


def _queue(
    session,
    *,
    minutes: float,
    older: bool = False,
    scenario: str | None = None,
    priority: Priority | None = None,
    line: Line | None = None,
) -> QueueEntry:
    """A call that reached the queue `minutes` after T0 (or a callback whose first call did)."""
    line = line or session.scalar(select(Line).where(Line.key == "main"))
    n = next(_sids)
    caller = Caller(phone_number=f"+86131{n:08d}", is_older_caller=older)
    session.add(caller)
    session.flush()
    call = Call(
        call_sid=f"CA{n:032d}",
        line_id=line.id,
        caller_id=caller.id,
        direction=CallDirection.INBOUND,
        status=CallStatus.IN_PROGRESS,
        scenario=scenario,
        menu_path=[],
    )
    session.add(call)
    return service.enqueue(
        session,
        call,
        caller,
        reason="key_0",
        priority=priority,
        arrived_at=T0 + timedelta(minutes=minutes),
    )


def test_order_is_priority_then_original_arrival(session):
    normal_early = _queue(session, minutes=0)
    older_late = _queue(session, minutes=5, older=True)
    urgent_latest = _queue(session, minutes=9, scenario="emergency")
    callback_first_call_yesterday = _queue(session, minutes=-24 * 60, priority=Priority.CALLBACK)
    callback_today = _queue(session, minutes=3, priority=Priority.CALLBACK)
    older_early = _queue(session, minutes=1, older=True)
    normal_late = _queue(session, minutes=2)
    session.commit()
    assert [e.id for e in service.waiting_entries(session)] == [
        urgent_latest.id,
        callback_first_call_yesterday.id,
        callback_today.id,
        older_early.id,
        older_late.id,
        normal_early.id,
        normal_late.id,
    ]
    assert service.position_of(session, urgent_latest) == 1
    assert service.position_of(session, normal_late) == 7
    assert urgent_latest.priority_reason == "emergency"
    assert callback_today.priority_reason == "callback"


def test_each_line_has_its_own_order(session):
    other = Line(key="bank", name="银行长者专线", phone_number="+861087654321")
    session.add(other)
    session.flush()
    a = _queue(session, minutes=0)
    b = _queue(session, minutes=1, line=other)
    session.commit()
    assert service.position_of(session, a) == 1
    assert service.position_of(session, b) == 1
    assert [e.id for e in service.waiting_entries(session, other.id)] == [b.id]


def test_enqueueing_the_same_call_twice_keeps_its_entry_and_place(session):
    entry = _queue(session, minutes=0)
    call = session.get(Call, entry.call_id)
    again = service.enqueue(session, call, None, reason="key_0")
    assert again.id == entry.id and again.arrived_at == T0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(list(Priority)), st.integers(0, 30)), min_size=1, max_size=8)
)
def test_positions_follow_priority_then_arrival(session, waiting):
    session.execute(delete(QueueEntry))
    entries = [_queue(session, minutes=m, priority=p) for p, m in waiting]
    session.commit()
    expected = sorted(entries, key=lambda e: (e.priority, e.arrived_at, e.id))
    assert [e.id for e in service.waiting_entries(session)] == [e.id for e in expected]
    for index, entry in enumerate(expected, start=1):
        assert service.position_of(session, entry) == index


@pytest.mark.parametrize(
    ("position", "answered", "staffed", "expected"),
    [
        (1, 30, 1, 60),  # 30 answers in 30 min: one a minute
        (3, 30, 1, 180),
        (3, 10, 4, 540),  # the answer rate wins over the head count once there are enough answers
        (2, 2, 2, 300),  # too few answers: 300 s a conversation, shared by 2 operators
        (2, 0, 0, 600),  # nobody on shift yet: counted as one
        (0, 30, 1, 0),
        (7, 4, 1, 3150),
    ],
)
def test_estimated_wait_arithmetic(position, answered, staffed, expected):
    assert (
        estimate_wait_seconds(
            position, answered_in_window=answered, window_seconds=1800, staffed_operators=staffed
        )
        == expected
    )


@given(st.integers(1, 50), st.integers(0, 200), st.integers(0, 20))
def test_a_later_position_never_waits_less(position, answered, staffed):
    kwargs = dict(answered_in_window=answered, window_seconds=1800, staffed_operators=staffed)
    assert estimate_wait_seconds(position + 1, **kwargs) >= estimate_wait_seconds(
        position, **kwargs
    )


def test_minutes_are_rounded_up_and_a_short_wait_is_called_soon():
    assert spoken_minutes(45) is None
    assert spoken_minutes(60) is None
    assert spoken_minutes(61) == 2
    assert spoken_minutes(180) == 3
    texts = texts_for("zh-CN")
    assert wait_prompts(
        texts, position=1, estimate_seconds=50, offer_callback=False, is_first=False
    ) == [
        "下一位就是您。",
        "很快就能接通。",
    ]


def test_estimate_uses_the_lines_recent_answers(session):
    first = _queue(session, minutes=0)
    now = datetime.now(UTC)
    for minutes_ago in (5, 10, 15, 20, 25, 28):
        done = _queue(session, minutes=-minutes_ago)
        done.status = service.QueueStatus.COMPLETED
        done.connected_at = now - timedelta(minutes=minutes_ago)
    session.commit()
    assert service.estimate_for(session, first, 1) == 300  # 6 answers in 30 minutes


def test_live_snapshot_counts_waiting_and_available(session):
    from hotline.operators.models import Operator, Presence

    _queue(session, minutes=0)
    _queue(session, minutes=1)
    session.add(Operator(username="a", presence=Presence.AVAILABLE, last_seen_at=datetime.now(UTC)))
    session.add(
        Operator(
            username="b",
            presence=Presence.AVAILABLE,
            last_seen_at=datetime.now(UTC) - timedelta(hours=1),
        )
    )
    session.add(Operator(username="c", presence=Presence.BUSY, last_seen_at=None))
    session.commit()
    snapshot = service.live_snapshot(session)
    assert snapshot["waiting"] == 2
    assert snapshot["available_operators"] == 1, "a console closed an hour ago does not count"
    assert snapshot["busy_operators"] == 1
    assert snapshot["longest_wait_seconds"] >= 0
    line = session.scalar(select(Line))
    assert service.live_snapshot(session, line_id=line.id)["waiting"] == 2
    assert service.live_snapshot(session, line_id=line.id + 99)["waiting"] == 0


def test_a_callback_waits_a_while_for_the_operator_who_scheduled_it(session):
    from hotline.operators.models import Operator, Presence
    from hotline.queue import connect

    scheduler = Operator(username="sched", presence=Presence.BUSY, last_seen_at=datetime.now(UTC))
    other = Operator(username="other", presence=Presence.AVAILABLE, last_seen_at=datetime.now(UTC))
    session.add_all([scheduler, other])
    session.flush()
    normal = _queue(session, minutes=0)
    callback = _queue(session, minutes=-60, priority=Priority.CALLBACK)
    callback.preferred_operator_id = scheduler.id
    callback.enqueued_at = datetime.now(UTC)
    session.commit()
    assert [e.id for e in connect.next_candidates(session, scheduler.id)] == [
        callback.id,
        normal.id,
    ]
    assert [e.id for e in connect.next_candidates(session, other.id)] == [normal.id]
    callback.enqueued_at = datetime.now(UTC) - connect.PREFERRED_HOLD
    session.commit()
    assert [e.id for e in connect.next_candidates(session, other.id)] == [callback.id, normal.id]
