"""The operator's day: figures from grouped SQL queries, checked against a day worked out by
hand; the page, its CSV, and who may see whose figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.cases.models import AuditEntry, Case
from hotline.db import db
from hotline.floor import day
from hotline.floor.day import OperatorDay, assemble
from hotline.operators.models import Presence, PresenceLog, Role
from hotline.queue.models import QueueEntry, QueueStatus
from tests import factories

#: 2026-03-02 in Shanghai is [2026-03-01 16:00, 2026-03-02 16:00) UTC.
DAY = date(2026, 3, 2)


def at(hour: int, minute: int = 0, second: int = 0, *, day_: int = 2) -> datetime:
    return datetime(2026, 3, day_, hour, minute, second, tzinfo=UTC)


def test_assemble_puts_the_grouped_rows_together():
    rows = assemble(
        [(1, "刘芳"), (2, "赵强"), (3, "值班长")],
        calls={1: (3, 1050.0, 630.0), 2: (1, 600.0, 600.0)},
        wrap_ups={1: (2, 150.0)},
        callbacks={1: (3, 2), 2: (1, 0)},
        transfers={},
        cases_opened={1: 2},
        cases_resolved={1: 1, 2: 2},
    )
    assert rows == [
        OperatorDay(1, "刘芳", 3, 1050, 630, 2, 150, 3, 2, 0, 2, 1),
        OperatorDay(2, "赵强", 1, 600, 600, 0, 0, 1, 0, 0, 0, 2),
    ]
    assert (rows[0].average_talk_seconds, rows[0].average_wrap_up_seconds) == (350, 75)
    assert (rows[1].average_talk_seconds, rows[1].average_wrap_up_seconds) == (600, None)
    # Someone with nothing in the window is kept only when asked for (their own page).
    assert assemble(
        [(3, "值班长")],
        calls={},
        wrap_ups={},
        callbacks={},
        transfers={},
        cases_opened={},
        cases_resolved={},
        keep_empty=True,
    ) == [OperatorDay(3, "值班长")]


def test_window_is_the_local_day_or_its_monday_to_sunday_week():
    assert day.window(DAY, "day", "Asia/Shanghai") == (
        datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
    )
    # 2026-03-04 is a Wednesday: the week of Monday 2 to Sunday 8 March.
    assert day.window(date(2026, 3, 4), "week", "Asia/Shanghai") == (
        datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 16, 0, tzinfo=UTC),
    )


def _conversation(session, line_id, operator_id, connected, seconds, status=QueueStatus.COMPLETED):
    call = factories.make_call(session, line_id=line_id, caller_id=None)
    session.add(
        QueueEntry(
            line_id=line_id,
            call_id=call.id,
            status=status,
            priority=3,
            arrived_at=connected - timedelta(seconds=40),
            enqueued_at=connected - timedelta(seconds=40),
            operator_id=operator_id,
            connected_at=connected,
            ended_at=connected + timedelta(seconds=seconds),
        )
    )


def _callback(session, line_id, operator_id, created, status):
    session.add(
        CallbackRequest(
            line_id=line_id,
            phone_number="+861055550199",
            reason=CallbackReason.OPERATOR,
            status=status,
            original_arrival_at=created,
            due_at=created,
            requested_by_operator_id=operator_id,
            created_at=created,
        )
    )


def _period(session, operator_id, state, since, seconds, reason=None):
    session.add(
        PresenceLog(
            operator_id=operator_id,
            state=state,
            reason=reason,
            since=since,
            until=since + timedelta(seconds=seconds),
        )
    )


_numbers = iter(range(1, 1000))


def _case(session, line_id, operator_id, created):
    session.add(
        Case(
            number=f"20260302-9{next(_numbers):03d}",
            line_id=line_id,
            opened_by_id=operator_id,
            created_at=created,
        )
    )


def _resolved(session, operator_id, when):
    session.add(
        AuditEntry(
            occurred_at=when,
            operator_id=operator_id,
            entity="case",
            entity_id=1,
            action="resolved",
        )
    )


@pytest.fixture
def worked_day(app):
    """The hand-computed day (UTC times; all inside 2026-03-02 in Shanghai unless said):

    刘芳: calls of 300 s, 120 s and 630 s (3 handled, average 350, longest 630); one the day
      before and one abandoned while connecting do not count; wrap-ups of 60 s and 90 s
      (average 75; a meal break is not a wrap-up); callbacks scheduled: done, connected,
      pending (3 placed, 2 reached); 2 cases opened, 1 resolved.
    赵强: one call of 600 s; no wrap-up; one callback that failed (1 placed, 0 reached); one
      case opened the day before (not counted); 2 resolved.
    值班长 (supervisor): nothing, left out of the table.
    """
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        liu = factories.make_operator(session, "liu", display_name="刘芳")
        zhao = factories.make_operator(session, "zhao", display_name="赵强")
        boss = factories.make_operator(session, "boss", role=Role.SUPERVISOR, display_name="值班长")
        _conversation(session, line.id, liu.id, at(2), 300)
        _conversation(session, line.id, liu.id, at(3), 120)
        _conversation(session, line.id, liu.id, at(4), 630)
        _conversation(session, line.id, liu.id, at(3, day_=1), 999)  # 11:00 on the 1st, local
        _conversation(session, line.id, liu.id, at(5), 50, status=QueueStatus.ABANDONED)
        _conversation(session, line.id, zhao.id, at(6), 600)
        _period(session, liu.id, Presence.WRAP_UP, at(2, 5), 60)
        _period(session, liu.id, Presence.WRAP_UP, at(3, 2), 90)
        _period(session, liu.id, Presence.AWAY, at(4, 30), 1800, reason="meal")
        _period(session, liu.id, Presence.BUSY, at(2), 300)
        _callback(session, line.id, liu.id, at(2, 10), CallbackStatus.DONE)
        _callback(session, line.id, liu.id, at(2, 20), CallbackStatus.CONNECTED)
        _callback(session, line.id, liu.id, at(2, 30), CallbackStatus.PENDING)
        _callback(session, line.id, zhao.id, at(6, 20), CallbackStatus.FAILED)
        _case(session, line.id, liu.id, at(2, 1))
        _case(session, line.id, liu.id, at(3, 1))
        _case(session, line.id, zhao.id, at(3, day_=1))
        _resolved(session, liu.id, at(7))
        _resolved(session, zhao.id, at(8))
        _resolved(session, zhao.id, at(9))
        session.commit()
        return {"liu": liu.id, "zhao": zhao.id, "boss": boss.id}


def test_the_figures_of_a_hand_computed_day(app, worked_day):
    liu, zhao = worked_day["liu"], worked_day["zhao"]
    start, end = day.window(DAY, "day", "Asia/Shanghai")
    with app.app_context():
        rows = day.operator_days(db.session, start, end)
    assert [r.name for r in rows] == ["刘芳", "赵强"]
    assert rows[0] == OperatorDay(
        operator_id=liu,
        name="刘芳",
        calls_handled=3,
        talk_seconds=1050,
        longest_call_seconds=630,
        wrap_ups=2,
        wrap_up_seconds=150,
        callbacks_placed=3,
        callbacks_reached=2,
        transfers=0,
        cases_opened=2,
        cases_resolved=1,
    )
    assert (rows[0].average_talk_seconds, rows[0].average_wrap_up_seconds) == (350, 75)
    assert rows[1] == OperatorDay(
        operator_id=zhao,
        name="赵强",
        calls_handled=1,
        talk_seconds=600,
        longest_call_seconds=600,
        callbacks_placed=1,
        cases_resolved=2,
    )
    # Answered at 10, 11 and 12 o'clock (刘芳) and 14 o'clock (赵强), Shanghai time.
    with app.app_context():
        assert day.calls_by_hour(db.session, start, end, "Asia/Shanghai") == {
            10: 1,
            11: 1,
            12: 1,
            14: 1,
        }
        assert day.calls_by_hour(db.session, start, end, "Asia/Shanghai", zhao) == {14: 1}
    # The week holds the call and the case of the day before (Sunday 1 March is in the week
    # of Monday 23 February, not this one).
    week_start, week_end = day.window(DAY, "week", "Asia/Shanghai")
    with app.app_context():
        assert day.operator_days(db.session, week_start, week_end) == rows
        assert day.transfer_counts(db.session, week_start, week_end) == {}


def _client(app, sign_in_as):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(sign_in_as)
        session["_fresh"] = True
        session["lang"] = "zh"
    return client


def test_a_supervisor_sees_everyone_and_an_operator_only_themselves(app, worked_day):
    boss = _client(app, worked_day["boss"])
    page = boss.get(f"/console/floor/day?day={DAY.isoformat()}").get_data(as_text=True)
    assert "刘芳" in page and "赵强" in page and 'id="day-chart"' in page
    assert 'data-calls="3"' in page and "5 分 50 秒" in page  # 刘芳's average talk, 350 s
    assert (
        '<g data-hour="14" data-calls="1">' in page and '<g data-hour="9" data-calls="0">' in page
    )

    operator = _client(app, worked_day["zhao"])
    own = operator.get(f"/console/floor/day?day={DAY.isoformat()}&operator={worked_day['liu']}")
    body = own.get_data(as_text=True)
    assert own.status_code == 200 and "赵强" in body and "刘芳" not in body
    assert "我的工作量" in body
    exported = operator.get(f"/console/floor/day.csv?day={DAY.isoformat()}")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["坐席编号", "坐席", "接听通话"]
    assert [r[1] for r in rows[1:]] == ["赵强"]
    assert rows[1][2:] == ["1", "600", "600", "", "1", "0", "0", "0", "2"]
    # The live board is the supervisors'.
    assert operator.get("/console/floor/board").status_code == 403
    assert operator.get("/console/floor/api/board").status_code == 403

    # A supervisor may look at one operator.
    one = boss.get(f"/console/floor/day?day={DAY.isoformat()}&operator={worked_day['zhao']}")
    assert "赵强" in one.get_data(as_text=True) and "刘芳" not in one.get_data(as_text=True)
    assert f"day.csv?day={DAY.isoformat()}&amp;period=day&amp;operator={worked_day['zhao']}" in (
        one.get_data(as_text=True)
    )

    # In English, and a day that is not a date falls back to today (nothing recorded).
    with boss.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    english = boss.get(f"/console/floor/day?day={DAY.isoformat()}&period=week").get_data(
        as_text=True
    )
    assert "Operators&#39; day" in english and "Calls handled per operator" in english
    assert "5 min 50 s" in english
    fallback = boss.get("/console/floor/day?day=yesterday&period=month")
    assert fallback.status_code == 200 and "Nothing recorded" in fallback.get_data(as_text=True)

    everyone = boss.get(f"/console/floor/day.csv?day={DAY.isoformat()}&period=week")
    assert everyone.headers["Content-Disposition"].endswith('operator-week-2026-03-02.csv"')
    names = [
        r[1] for r in csv.reader(io.StringIO(everyone.get_data(as_text=True).lstrip("\ufeff")))
    ]
    assert names[1:] == ["刘芳", "赵强"]


def test_transfers_are_counted_per_operator_in_the_window(app):
    """External transfers (hotline.transfers) count for the operator who started them, in the
    local day: one of the day before does not count."""
    from hotline.transfers.models import ExternalTransfer, TransferMode

    start, end = day.window(DAY, "day", "Asia/Shanghai")
    with app.app_context():
        session = db.session
        line_id = factories.main_line(session).id
        one = factories.make_operator(session, username="t1").id
        two = factories.make_operator(session, username="t2").id
        _conversation(session, line_id, one, at(2), 60)
        session.flush()
        entry = session.query(QueueEntry).one()
        assert day.transfer_counts(session, start, end) == {}
        for operator_id, started in (
            (one, at(2)),
            (one, at(3)),
            (two, at(4)),
            (two, at(3, day_=1)),
        ):
            session.add(
                ExternalTransfer(
                    call_id=entry.call_id,
                    queue_entry_id=entry.id,
                    operator_id=operator_id,
                    kind="agency",
                    target_number="+861055550120",
                    mode=TransferMode.WARM,
                    started_at=started,
                )
            )
        session.flush()
        assert day.transfer_counts(session, start, end) == {one: 2, two: 1}
        assert day.transfer_counts(session, start, end, two) == {two: 1}
        session.rollback()


def test_a_name_a_spreadsheet_would_run_is_quoted_in_the_csv(app):
    with app.app_context():
        boss = factories.make_operator(db.session, "boss2", role=Role.SUPERVISOR)
        sly = factories.make_operator(db.session, "sly", display_name="=HYPERLINK(1)")
        _case(db.session, factories.main_line(db.session).id, sly.id, at(2))
        db.session.commit()
        boss_id = boss.id
    exported = _client(app, boss_id).get(f"/console/floor/day.csv?day={DAY.isoformat()}")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][1] == "'=HYPERLINK(1)"
