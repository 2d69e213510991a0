"""The operator's day: figures from grouped SQL queries, checked against a day worked out by
hand; the page, its CSV, and who may see whose figures."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.calls.models import Call
from hotline.cases.models import AuditEntry, Case
from hotline.db import db
from hotline.floor import day
from hotline.floor.day import OperatorDay, assemble
from hotline.operators.models import Presence, PresenceLog, Role
from hotline.queue.models import OperatorTalk, QueueEntry, QueueStatus, TalkEnd
from hotline.transfers.models import ExternalTransfer, TransferMode
from tests import factories
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import call_status, entry_of, login, reach_queue

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
    """A caller's queue entry; a completed one with the operator's stretch of talk."""
    call = factories.make_call(session, line_id=line_id, caller_id=None)
    entry = QueueEntry(
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
    session.add(entry)
    session.flush()
    if status == QueueStatus.COMPLETED:
        _talk(session, entry, operator_id, connected, seconds)
    return entry


def _talk(session, entry, operator_id, started, seconds, ended_by=TalkEnd.CALL_ENDED):
    session.add(
        OperatorTalk(
            queue_entry_id=entry.id,
            call_id=entry.call_id,
            operator_id=operator_id,
            started_at=started,
            ended_at=started + timedelta(seconds=seconds) if seconds is not None else None,
            ended_by=ended_by if seconds is not None else None,
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
    assert rows[1][2:] == ["1", "600", "600", "", "1", "0", "0", "0", "0", "2"]
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
        assert day.transfer_counts(session, start, end) == {one: (2, 0), two: (1, 0)}
        assert day.transfer_counts(session, start, end, two) == {two: (1, 0)}
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


# --------------------------------------------------------------------------- stretches of talk


#: 10:00 in Shanghai on the report's day.
TEN = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
COLLEAGUE_PHONE = "+8613123456782"


def _conference_join(twilio, entry_id: int, call_sid: str, sequence: int) -> None:
    twilio.post(
        f"/twilio/queue/conference-status?entry={entry_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "ConferenceSid": "CF" + "c" * 32,
            "FriendlyName": "x",
            "StatusCallbackEvent": "participant-join",
            "CallSid": call_sid,
            "SequenceNumber": str(sequence),
        },
    )


def _take_and_answer(twilio, app, client, entry_id: int, operator_id: int, sequence: int):
    """The operator takes this caller and picks up their phone; the caller joins."""
    taken = client.post(f"/console/api/queue/{entry_id}/take", data={"via": "phone"})
    assert taken.status_code == 200, taken.get_json()
    entry = entry_of(app, entry_id)
    answered = twilio.post(
        f"/twilio/queue/operator?entry={entry_id}&op={operator_id}",
        twilio.call_params(
            entry.operator_call_sid,
            from_="+861012345678",
            to="+8613123456781",
            CallStatus="in-progress",
            Direction="outbound-api",
        ),
    )
    assert answered.status_code == 200
    call_sid = _call_sid(app, entry_id)
    _conference_join(twilio, entry_id, call_sid, sequence)


def _call_sid(app, entry_id: int) -> str:
    with app.app_context():
        entry = db.session.get(QueueEntry, entry_id)
        return db.session.get(Call, entry.call_id).call_sid


def _cold_transfer_nobody_answers(twilio, http_client, client, entry_id: int, leg: str) -> None:
    """A cold transfer to 120 whose leg is never answered: the caller goes back to the queue."""
    http_client.responses.insert(
        0,
        (
            r"POST .*/Participants\.json$",
            (201, {"call_sid": leg, "conference_sid": "CF" + "c" * 32, "status": "queued"}),
        ),
    )
    started = client.post(
        f"/console/api/transfers/{entry_id}/start", data={"choice": "emergency:120", "mode": "cold"}
    )
    assert started.get_json()["ok"], started.get_json()
    http_client.responses.pop(0)
    with app_context_of(client) as session:
        transfer_id = session.scalar(
            select(ExternalTransfer.id).where(ExternalTransfer.participant_call_sid == leg)
        )
    failed = twilio.post(
        f"/twilio/transfers/participant-status?transfer={transfer_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "CallSid": leg,
            "CallStatus": "no-answer",
            "CallDuration": "0",
            "From": "+861012345678",
            "To": "120",
            "Direction": "outbound-api",
        },
    )
    failed.close()  # runs the requeue scheduled after the response
    assert failed.status_code == 204


@contextmanager
def app_context_of(client):
    with client.application.app_context():
        yield db.session


def test_talk_is_credited_by_stretch_through_transfers_retakes_and_hand_overs(
    app, twilio, http_client, make_operator
):
    """A day worked through the webhooks and the console, computed by hand (seconds after
    10:00 Shanghai time):

    王阿姨: 林 answers at 0; at 100 林 sends her cold to 120, which never answers, so she goes
      back to the queue; 林 takes her again and answers at 170 (one call, two stretches); at
      230 林 rings 赵 in, who answers at 240; 林 hands over at 260 and 赵 hangs up at 400.
    李先生: 林 answers at 600; at 650 a cold transfer to 120 that never answers; he hangs up
      while waiting again (nobody takes him back).

    林: calls handled 2 (王阿姨 once, 李先生), talk 100 + 90 + 50 = 240, longest 190 (王阿姨's
      two stretches), transfers 2, reached 0; wrap-ups 100-160 and 260-320 (each ended by
      itself after the line's 60 s), 120 s (the one after 650 has not ended yet). 赵: 1 call, 160 s
      (from joining at 240 to 400).
    """
    with time_machine.travel(TEN, tick=False) as clock:
        lin = make_operator("lin", display_name="林坐席")
        zhao = make_operator("zhao", display_name="赵坐席", phone_number=COLLEAGUE_PHONE)
        client, zhao_client = app.test_client(), app.test_client()
        login(client, "lin")
        login(zhao_client, "zhao")
        wang = reach_queue(twilio, app, from_="+8613123456771")
        _take_and_answer(twilio, app, client, wang.entry_id, lin, sequence=1)
        clock.move_to(TEN + timedelta(seconds=100))
        _cold_transfer_nobody_answers(twilio, http_client, client, wang.entry_id, "CA" + "8" * 32)
        assert entry_of(app, wang.entry_id).status == QueueStatus.WAITING
        clock.move_to(TEN + timedelta(seconds=170))
        _take_and_answer(twilio, app, client, wang.entry_id, lin, sequence=2)
        clock.move_to(TEN + timedelta(seconds=230))
        assert zhao_client.get("/console/api/queue").status_code == 200  # 赵's console polls
        rung = client.post(f"/console/api/queue/{wang.entry_id}/transfer", data={"to": zhao})
        assert rung.get_json()["ok"], rung.get_json()
        clock.move_to(TEN + timedelta(seconds=240))
        colleague_leg = entry_of(app, wang.entry_id).transfer_call_sid
        joined = twilio.post(
            f"/twilio/queue/operator?entry={wang.entry_id}&op={zhao}",
            twilio.call_params(
                colleague_leg,
                from_="+861012345678",
                to=COLLEAGUE_PHONE,
                CallStatus="in-progress",
                Direction="outbound-api",
            ),
        )
        assert joined.status_code == 200
        clock.move_to(TEN + timedelta(seconds=260))
        assert client.post(f"/console/api/queue/{wang.entry_id}/hand-over").get_json()["ok"]
        clock.move_to(TEN + timedelta(seconds=400))
        assert zhao_client.post(f"/console/api/queue/{wang.entry_id}/hangup").get_json()["ok"]

        clock.move_to(TEN + timedelta(seconds=590))
        li = reach_queue(twilio, app, from_="+8613123456772")
        clock.move_to(TEN + timedelta(seconds=600))
        _take_and_answer(twilio, app, client, li.entry_id, lin, sequence=1)
        clock.move_to(TEN + timedelta(seconds=650))
        _cold_transfer_nobody_answers(twilio, http_client, client, li.entry_id, "CA" + "9" * 32)
        clock.move_to(TEN + timedelta(seconds=700))
        assert call_status(twilio, li, "completed", sequence=9).status_code == 204
        assert entry_of(app, li.entry_id).status == QueueStatus.ABANDONED

    with app.app_context():
        talks = db.session.execute(
            select(
                OperatorTalk.queue_entry_id,
                OperatorTalk.operator_id,
                OperatorTalk.started_at,
                OperatorTalk.ended_at,
                OperatorTalk.ended_by,
            ).order_by(OperatorTalk.id)
        ).all()
        after = lambda seconds: TEN + timedelta(seconds=seconds)  # noqa: E731
        assert [tuple(t) for t in talks] == [
            (wang.entry_id, lin, after(0), after(100), TalkEnd.COLD_TRANSFER),
            (wang.entry_id, lin, after(170), after(260), TalkEnd.HANDED_OVER),
            (wang.entry_id, zhao, after(240), after(400), TalkEnd.HUNG_UP),
            (li.entry_id, lin, after(600), after(650), TalkEnd.COLD_TRANSFER),
        ]
        start, end = day.window(DAY, "day", "Asia/Shanghai")
        rows = {r.operator_id: r for r in day.operator_days(db.session, start, end)}
        by_hour = day.calls_by_hour(db.session, start, end, "Asia/Shanghai")
    assert rows[lin] == OperatorDay(
        operator_id=lin,
        name="林坐席",
        calls_handled=2,
        talk_seconds=240,
        longest_call_seconds=190,
        wrap_ups=2,
        wrap_up_seconds=120,
        transfers=2,
        transfers_reached=0,
    )
    assert rows[lin].average_talk_seconds == 120
    assert rows[zhao] == OperatorDay(
        operator_id=zhao, name="赵坐席", calls_handled=1, talk_seconds=160, longest_call_seconds=160
    )
    assert by_hour == {10: 3}


def test_transfers_reached_count_those_the_other_side_answered(app):
    start, end = day.window(DAY, "day", "Asia/Shanghai")
    with app.app_context():
        session = db.session
        line_id = factories.main_line(session).id
        one = factories.make_operator(session, username="r1").id
        entry = _conversation(session, line_id, one, at(2), 60)
        for answered in (at(2, 1), None, at(2, 3)):
            session.add(
                ExternalTransfer(
                    call_id=entry.call_id,
                    queue_entry_id=entry.id,
                    operator_id=one,
                    kind="emergency",
                    target_number="120",
                    mode=TransferMode.COLD,
                    started_at=at(2),
                    answered_at=answered,
                )
            )
        session.flush()
        assert day.transfer_counts(session, start, end) == {one: (3, 2)}
        [row] = day.operator_days(session, start, end)
        assert (row.transfers, row.transfers_reached) == (3, 2)
        session.rollback()
