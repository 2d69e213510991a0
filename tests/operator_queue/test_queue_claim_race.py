"""Two (or eight) operators click at the same moment: exactly one gets the caller.

Runs on PostgreSQL (row locks, READ COMMITTED re-checks of `status = 'waiting'`), each claimer in
its own thread with its own connection; and on SQLite, where the file lock serialises writers.
"""

from __future__ import annotations

import threading
from datetime import time

import pytest
from sqlalchemy import select

from hotline import create_app
from hotline.calls.models import Call, CallDirection, CallStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Operator, Presence
from hotline.queue import connect, service
from hotline.queue.connect import QueueActionError
from hotline.queue.models import QueueEntry, QueueStatus
from hotline.timeutil import utcnow

from .queue_support import QUEUE_SID

CLAIMERS = 8


def _world(app, *, callers: int, operators: int) -> tuple[list[int], list[int]]:
    """A line, waiting callers and available operators; returns (entry ids, operator ids)."""
    with app.app_context():
        line = db.session.scalar(select(Line).where(Line.key == "main"))
        if line is None:
            line = Line(
                key="main",
                name="长者服务热线",
                phone_number="+861012345678",
                is_open_every_day=True,
                opens_at=time(0),
                closes_at=time(0),
            )
            db.session.add(line)
            db.session.flush()
        entries = []
        for n in range(callers):
            call = Call(
                call_sid=f"CA{n:032d}",
                line_id=line.id,
                direction=CallDirection.INBOUND,
                status=CallStatus.IN_PROGRESS,
                menu_path=[],
                from_number=f"+86131000000{n:02d}",
            )
            db.session.add(call)
            entry = service.enqueue(db.session, call, None, reason="key_0")
            entry.queue_sid = QUEUE_SID
            entries.append(entry)
        ops = []
        for n in range(operators):
            op = Operator(
                username=f"racer{n}",
                presence=Presence.AVAILABLE,
                last_seen_at=utcnow(),
                phone_number=f"+86139000000{n:02d}",
            )
            db.session.add(op)
            ops.append(op)
        db.session.commit()
        return [e.id for e in entries], [o.id for o in ops]


def _race(app, work, operator_ids: list[int]) -> list[object]:
    """Run work(session, operator_id) in one thread per operator, released together."""
    barrier = threading.Barrier(len(operator_ids))
    results: list[object] = [None] * len(operator_ids)

    def run(index: int, operator_id: int) -> None:
        with app.app_context():
            session = db.session_factory()
            try:
                session.connection()  # each claimer holds its own connection before the start
                barrier.wait(timeout=10)
                results[index] = work(session, operator_id)
            except Exception as exc:  # noqa: BLE001 - reported by the assertions
                results[index] = exc
            finally:
                session.close()

    threads = [threading.Thread(target=run, args=(i, op)) for i, op in enumerate(operator_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def _assert_one_winner(app, entry_id: int, operator_ids: list[int], results: list[object]) -> None:
    winners = [
        op
        for op, result in zip(operator_ids, results, strict=True)
        if isinstance(result, QueueEntry)
    ]
    assert len(winners) == 1, results
    assert all(r is None for r in results if not isinstance(r, QueueEntry)), results
    with app.app_context():
        entry = db.session.get(QueueEntry, entry_id)
        assert entry.status == QueueStatus.CONNECTING and entry.operator_id == winners[0]
        presences = {op.id: op.presence for op in db.session.scalars(select(Operator))}
    assert presences.pop(winners[0]) == Presence.BUSY
    assert set(presences.values()) == {Presence.AVAILABLE}, "losers are not left busy"


@pytest.fixture
def pg_app(app_config, pg_url):
    """The app on a fresh PostgreSQL database of its own."""
    application = create_app({**app_config, "DATABASE_URL": pg_url})
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_have_exactly_one_winner(pg_app):
    for _round in range(3):
        with pg_app.app_context():
            db.session.execute(QueueEntry.__table__.delete())
            db.session.execute(Call.__table__.delete())
            db.session.execute(Operator.__table__.delete())
            db.session.commit()
        [entry_id], operators = _world(pg_app, callers=1, operators=CLAIMERS)
        results = _race(
            pg_app, lambda session, op, e=entry_id: connect.claim(session, e, op), operators
        )
        _assert_one_winner(pg_app, entry_id, operators, results)


@pytest.mark.postgres
def test_concurrent_take_next_on_postgresql_gives_each_operator_a_different_caller(pg_app):
    entries, operators = _world(pg_app, callers=3, operators=3)

    def take_next(session, operator_id):
        return connect.take(session, operator_id).id

    with pg_app.test_request_context():
        results = _race(pg_app, take_next, operators)
    assert sorted(results) == sorted(entries), results


def test_concurrent_claims_on_sqlite_have_exactly_one_winner(app):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("the SQLite variant of the race")
    [entry_id], operators = _world(app, callers=1, operators=4)
    results = _race(app, lambda session, op: connect.claim(session, entry_id, op), operators)
    _assert_one_winner(app, entry_id, operators, results)


def test_an_operator_cannot_hold_two_callers(app, session):
    entries, [operator_id] = _world(app, callers=2, operators=1)
    assert connect.claim(session, entries[0], operator_id) is not None
    with pytest.raises(QueueActionError) as refused:
        connect.claim(session, entries[1], operator_id)
    assert refused.value.code == "busy"
    assert session.get(QueueEntry, entries[1]).status == QueueStatus.WAITING


@pytest.mark.postgres
def test_concurrent_take_next_with_routing_on_postgresql_keeps_one_winner(pg_app):
    """Four Cantonese operators click "take the next caller" at once: one Cantonese caller, and
    a Mandarin caller none of them is offered yet. One gets the Cantonese caller; the others
    are told nobody is waiting for them, and the Mandarin caller keeps waiting."""
    [cantonese, mandarin], operators = _world(pg_app, callers=2, operators=4)
    with pg_app.app_context():
        db.session.get(QueueEntry, cantonese).language = "yue-HK"
        for operator_id in operators:
            db.session.get(Operator, operator_id).languages = ["yue-HK"]
        db.session.commit()

    def take_next(session, operator_id):
        try:
            return connect.take(session, operator_id).id
        except QueueActionError as refused:
            return refused.code

    with pg_app.test_request_context():
        results = _race(pg_app, take_next, operators)
    assert sorted(results, key=str) == sorted([cantonese, "empty", "empty", "empty"], key=str)
    with pg_app.app_context():
        assert db.session.get(QueueEntry, mandarin).status == QueueStatus.WAITING
        busy = [
            op.id for op in db.session.scalars(select(Operator)) if op.presence == Presence.BUSY
        ]
    assert len(busy) == 1
