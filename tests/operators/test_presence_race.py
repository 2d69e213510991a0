"""Several web workers notice the same overdue wrap-up at once (PostgreSQL, a thread and a
connection each): it ends once, one log row; a take racing the sweep leaves periods that follow
each other without overlap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.db import db
from hotline.operators import presence
from hotline.operators.models import Operator, Presence, PresenceLog
from hotline.timeutil import utcnow
from tests.operator_queue import test_queue_claim_race as claim_race

WORKERS = 6
#: The claim race's PostgreSQL app and harness.
pg_app = claim_race.pg_app
_race = claim_race._race


def _overdue_operator(app) -> int:
    now = utcnow()
    with app.app_context():
        db.session.execute(PresenceLog.__table__.delete())
        db.session.execute(Operator.__table__.delete())
        operator = Operator(
            username="wrapper",
            presence=Presence.WRAP_UP,
            presence_changed_at=now - timedelta(seconds=90),
            wrap_up_until=now - timedelta(seconds=30),
            last_seen_at=now,
        )
        db.session.add(operator)
        db.session.commit()
        return operator.id


def _together(app, works) -> list[object]:
    """Run each work(session) in its own thread and connection, released together; each
    commits what it did (the claim race's harness)."""

    def run(session, index):
        result = works[index](session)
        session.commit()
        return result

    return _race(app, run, list(range(len(works))))


def _log(app, operator_id):
    with app.app_context():
        return [
            (row.state, row.since, row.until)
            for row in db.session.scalars(
                select(PresenceLog)
                .where(PresenceLog.operator_id == operator_id)
                .order_by(PresenceLog.since, PresenceLog.id)
            )
        ]


@pytest.mark.postgres
def test_workers_noticing_the_same_overdue_wrap_up_end_it_once(pg_app):
    for _round in range(3):
        operator_id = _overdue_operator(pg_app)
        results = _together(
            pg_app, [lambda s: presence.end_overdue_wrap_ups(s) for _ in range(WORKERS)]
        )
        assert sorted(results) == [0] * (WORKERS - 1) + [1], results
        log = _log(pg_app, operator_id)
        assert [state for state, _since, _until in log] == [Presence.WRAP_UP]
        with pg_app.app_context():
            assert db.session.get(Operator, operator_id).presence == Presence.AVAILABLE


@pytest.mark.postgres
def test_a_take_racing_the_sweep_leaves_periods_that_follow_each_other(pg_app):
    for _round in range(3):
        operator_id = _overdue_operator(pg_app)

        def take(session, operator_id=operator_id):
            operator = session.get(Operator, operator_id)
            return presence.change(
                session,
                operator,
                Presence.BUSY,
                only_from=tuple(p for p in Presence if p != Presence.BUSY),
            )

        results = _together(pg_app, [take, lambda s: presence.end_overdue_wrap_ups(s)] * 2)
        assert not [r for r in results if isinstance(r, Exception)], results
        log = _log(pg_app, operator_id)
        # wrap-up until its deadline, available from the deadline until the take; no overlap.
        assert [state for state, _s, _u in log] == [Presence.WRAP_UP, Presence.AVAILABLE]
        assert log[0][2] == log[1][1]
        with pg_app.app_context():
            operator = db.session.get(Operator, operator_id)
            assert operator.presence == Presence.BUSY
            assert operator.presence_changed_at == log[1][2]
