"""Presence that matches a shift: wrap-up ends by itself after the line's time unless extended,
away has a reason, and every change leaves its finished period in the presence log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hotline.db import db
from hotline.operators import presence
from hotline.operators.models import AwayReason, Operator, Presence, PresenceLog
from hotline.operators.presence import Seen, finished_periods
from tests import factories
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import login, operator_of

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _log(session, operator_id: int) -> list[tuple[str, str | None, datetime, datetime]]:
    rows = session.scalars(
        select(PresenceLog).where(PresenceLog.operator_id == operator_id).order_by(PresenceLog.id)
    )
    return [(row.state.value, row.reason, row.since, row.until) for row in rows]


@pytest.mark.parametrize(
    ("seen", "now", "periods"),
    [
        # A plain change finishes the period that was going on.
        (
            Seen(1, Presence.AVAILABLE, _at(0), None, None),
            _at(30),
            [(Presence.AVAILABLE, None, _at(0), _at(30))],
        ),
        # Away keeps its reason in the log.
        (
            Seen(1, Presence.AWAY, _at(0), "meal", None),
            _at(1800),
            [(Presence.AWAY, "meal", _at(0), _at(1800))],
        ),
        # A wrap-up changed before its deadline ends when it was changed.
        (
            Seen(1, Presence.WRAP_UP, _at(0), None, _at(60)),
            _at(20),
            [(Presence.WRAP_UP, None, _at(0), _at(20))],
        ),
        # A wrap-up noticed late ended at its deadline; available from then on.
        (
            Seen(1, Presence.WRAP_UP, _at(0), None, _at(60)),
            _at(75),
            [
                (Presence.WRAP_UP, None, _at(0), _at(60)),
                (Presence.AVAILABLE, None, _at(60), _at(75)),
            ],
        ),
        # A new account (never changed): nothing to log.
        (Seen(1, Presence.OFFLINE, None, None, None), _at(5), []),
    ],
)
def test_finished_periods(seen, now, periods):
    assert finished_periods(seen, now) == periods


def _operator(session, **fields) -> Operator:
    with time_machine.travel(T0, tick=False):
        operator = factories.make_operator(
            session, presence=Presence.AVAILABLE, presence_changed_at=T0, last_seen_at=T0, **fields
        )
        session.commit()
    return operator


def test_wrap_up_ends_by_itself_after_the_lines_time_dated_at_the_deadline(session):
    operator = _operator(session)
    with time_machine.travel(_at(10), tick=False):
        presence.mark(operator, Presence.WRAP_UP, wrap_up_seconds=45)
        session.commit()
    assert operator.wrap_up_until == _at(55)
    # Still wrapping up just before the deadline: the poll changes nothing.
    with time_machine.travel(_at(54), tick=False):
        presence.heartbeat(session, operator.id)
        session.commit()
    assert operator.presence == Presence.WRAP_UP
    # The operator's poll a few seconds after the deadline ends it, dated at the deadline.
    with time_machine.travel(_at(58), tick=False):
        presence.heartbeat(session, operator.id)
        session.commit()
    session.expire_all()
    operator = session.get(Operator, operator.id)
    assert operator.presence == Presence.AVAILABLE
    assert operator.presence_changed_at == _at(55)
    assert operator.wrap_up_until is None
    assert _log(session, operator.id) == [
        ("available", None, T0, _at(10)),
        ("wrap_up", None, _at(10), _at(55)),
    ]


def test_extending_the_wrap_up_moves_the_deadline_by_sixty_seconds(session):
    operator = _operator(session)
    with time_machine.travel(_at(0), tick=False):
        presence.mark(operator, Presence.WRAP_UP, wrap_up_seconds=60)
        session.commit()
    with time_machine.travel(_at(50), tick=False):
        assert presence.extend_wrap_up(session, operator.id) == _at(120)
        session.commit()
    with time_machine.travel(_at(90), tick=False):
        assert presence.end_overdue_wrap_ups(session) == 0
        session.commit()
    assert operator.presence == Presence.WRAP_UP
    with time_machine.travel(_at(121), tick=False):
        assert presence.end_overdue_wrap_ups(session) == 1
        session.commit()
    assert operator.presence == Presence.AVAILABLE
    assert _log(session, operator.id)[-1] == ("wrap_up", None, _at(0), _at(120))
    # Not wrapping up: nothing to extend.
    assert presence.extend_wrap_up(session, operator.id) is None


def test_the_wrap_up_is_ended_once_when_two_workers_notice_it(session):
    """Two web workers read the same overdue wrap-up; the second's conditional change finds the
    row moved and writes nothing (no second log row)."""
    operator = _operator(session)
    with time_machine.travel(_at(0), tick=False):
        presence.mark(operator, Presence.WRAP_UP, wrap_up_seconds=60)
        session.commit()
    stale = Seen.of(operator)  # what the slower worker read
    with time_machine.travel(_at(70), tick=False):
        assert presence.end_overdue_wrap_ups(session) == 1
        session.commit()
        assert presence._switch(session, stale, Presence.AVAILABLE, now=_at(70)) is None
        assert presence.end_overdue_wrap_ups(session) == 0
        session.commit()
    assert [row[0] for row in _log(session, operator.id)] == ["available", "wrap_up"]


def test_away_has_a_reason_and_each_change_is_logged(session):
    operator = _operator(session)
    with time_machine.travel(_at(100), tick=False):
        assert presence.choose(
            session, operator.id, Presence.AWAY, on_call=False, reason=AwayReason.MEAL
        )
        session.commit()
    assert operator.away_reason == AwayReason.MEAL
    with time_machine.travel(_at(1900), tick=False):
        assert presence.choose(
            session, operator.id, Presence.AWAY, on_call=False, reason=AwayReason.TRAINING
        )
        session.commit()
    with time_machine.travel(_at(5500), tick=False):
        assert presence.choose(session, operator.id, Presence.AVAILABLE, on_call=False)
        session.commit()
    assert operator.away_reason is None
    assert _log(session, operator.id) == [
        ("available", None, T0, _at(100)),
        ("away", "meal", _at(100), _at(1900)),
        ("away", "training", _at(1900), _at(5500)),
    ]
    # Away without a reason given counts as "other"; nothing changes on a call.
    with time_machine.travel(_at(5600), tick=False):
        assert presence.choose(session, operator.id, Presence.AWAY, on_call=False)
        assert not presence.choose(session, operator.id, Presence.AVAILABLE, on_call=True)
        session.commit()
    assert operator.away_reason == AwayReason.OTHER


def test_a_closed_console_goes_offline_once_and_is_logged(session):
    operator = _operator(session)
    other = _operator(session)
    with time_machine.travel(_at(30), tick=False):
        presence.heartbeat(session, other.id)
        session.commit()
    with time_machine.travel(_at(80), tick=False):
        # `operator` has not polled since T0: offline; `other` polled at 30 s and stays.
        assert presence.sweep_offline(session) == 1
        assert presence.sweep_offline(session) == 0
        session.commit()
    assert session.get(Operator, operator.id).presence == Presence.OFFLINE
    assert session.get(Operator, other.id).presence == Presence.AVAILABLE
    assert _log(session, operator.id) == [("available", None, T0, _at(80))]
    assert db.session is session


# --------------------------------------------------------------------------- the console


def test_console_away_reason_wrap_up_countdown_and_extension(app, make_operator):
    with time_machine.travel(T0, tick=False) as clock:
        lin = make_operator("lin", presence=Presence.AVAILABLE, seen_at=T0)
        client = app.test_client()
        login(client, "lin")
        answer = client.post("/console/api/presence", data={"presence": "away", "reason": "meal"})
        assert answer.get_json()["ok"]
        me = client.get("/console/api/queue").get_json()["me"]
        assert (me["presence"], me["away_reason"], me["away_reason_label"]) == (
            "away",
            "meal",
            "用餐",
        )
        bad = client.post("/console/api/presence", data={"presence": "away", "reason": "nap"})
        assert bad.status_code == 400
        assert client.post("/console/api/wrap-up/extend").status_code == 409

        # A call ends on a line with a 30 s wrap-up.
        with app.app_context():
            from hotline.lines.models import Line

            line = db.session.scalar(select(Line).where(Line.key == "main"))
            line.wrap_up_seconds = 30
            operator = db.session.get(Operator, lin)
            presence.mark(operator, Presence.WRAP_UP, wrap_up_seconds=line.wrap_up_seconds)
            db.session.commit()
        clock.shift(10)
        state = client.get("/console/api/queue").get_json()
        assert state["wrap_up"]["seconds_left"] == 20
        extended = client.post("/console/api/wrap-up/extend").get_json()
        assert extended["ok"] and extended["until"] == (T0 + timedelta(seconds=90)).isoformat()
        clock.shift(60)  # 70 s: still wrapping up (until 90 s)
        assert client.get("/console/api/queue").get_json()["wrap_up"]["seconds_left"] == 20
        clock.shift(21)  # 91 s: over by itself
        assert client.get("/console/api/queue").get_json()["me"]["presence"] == "available"
        assert operator_of(app, lin).presence_changed_at == T0 + timedelta(seconds=90)


def test_a_finished_conversation_wraps_up_for_the_lines_time(app, session):
    """The queue's end of a conversation starts the wrap-up with the line's own time."""
    from hotline.queue import service
    from hotline.queue.models import QueueEntry, QueueStatus
    from tests.factories import main_line, make_call

    line = main_line(session)
    line.wrap_up_seconds = 45
    with time_machine.travel(T0, tick=False):
        operator = factories.make_operator(session, presence=Presence.BUSY, presence_changed_at=T0)
        call = make_call(session, line_id=line.id, caller_id=None)
        entry = QueueEntry(
            line_id=line.id,
            call_id=call.id,
            status=QueueStatus.CONNECTED,
            priority=3,
            arrived_at=T0,
            enqueued_at=T0,
            operator_id=operator.id,
            connected_at=T0,
        )
        session.add(entry)
        session.commit()
    with time_machine.travel(_at(200), tick=False):
        assert service.conversation_over(session, entry)
        session.commit()
    assert operator.presence == Presence.WRAP_UP
    assert operator.wrap_up_until == _at(245)
    assert _log(session, operator.id) == [("busy", None, T0, _at(200))]


def test_the_wrap_up_time_is_a_line_setting_in_the_cli_too(app, runner):
    from hotline.lines.models import Line

    done = runner.invoke(args=["lines", "update", "main", "--wrap-up", "90"])
    assert done.exit_code == 0, done.output
    refused = runner.invoke(args=["lines", "update", "main", "--wrap-up", "5"])
    assert refused.exit_code == 1 and "wrap_up_seconds" in refused.output
    with app.app_context():
        assert db.session.scalar(select(Line.wrap_up_seconds).where(Line.key == "main")) == 90


def test_ready_after_the_deadline_is_available_from_the_deadline(session):
    """ "Done" pressed after the wrap-up time ran out (nobody had noticed yet): one wrap-up
    period until the deadline, available from the deadline."""
    operator = _operator(session)
    with time_machine.travel(_at(0), tick=False):
        presence.mark(operator, Presence.WRAP_UP, wrap_up_seconds=60)
        session.commit()
    with time_machine.travel(_at(75), tick=False):
        presence.mark(operator, Presence.AVAILABLE)
        session.commit()
    assert operator.presence_changed_at == _at(60)
    assert _log(session, operator.id)[-1] == ("wrap_up", None, _at(0), _at(60))
