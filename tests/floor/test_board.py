"""The supervisors' live board: each operator's state, since when, why, and the caller they are
with (wait and talk time); an overdue wrap-up is ended (at its deadline) before it is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from hotline.callers.models import Caller
from hotline.db import db
from hotline.operators.models import AwayReason, Presence, Role
from hotline.queue.models import QueueEntry, QueueStatus
from tests import factories

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_the_board_shows_states_reasons_and_the_current_callers_wait_and_talk(app):
    with time_machine.travel(NOW, tick=False):
        with app.app_context():
            session = db.session
            line = factories.main_line(session)
            seen = {"last_seen_at": NOW}
            boss = factories.make_operator(session, "boss", role=Role.SUPERVISOR, **seen)
            liu = factories.make_operator(
                session,
                "liu",
                display_name="刘芳",
                presence=Presence.BUSY,
                presence_changed_at=NOW - timedelta(seconds=95),
                **seen,
            )
            zhao = factories.make_operator(
                session,
                "zhao",
                display_name="赵强",
                presence=Presence.WRAP_UP,
                presence_changed_at=NOW - timedelta(seconds=80),
                wrap_up_until=NOW - timedelta(seconds=20),
                languages=["yue-HK", "zh-CN"],
                **seen,
            )
            factories.make_operator(
                session,
                "chen",
                display_name="陈静",
                presence=Presence.AWAY,
                away_reason=AwayReason.TRAINING,
                presence_changed_at=NOW - timedelta(minutes=30),
                **seen,
            )
            caller = Caller(phone_number="+861055550123", display_name="黄伯")
            session.add(caller)
            session.flush()
            call = factories.make_call(session, line_id=line.id, caller_id=caller.id)
            session.add(
                QueueEntry(
                    line_id=line.id,
                    call_id=call.id,
                    caller_id=caller.id,
                    status=QueueStatus.CONNECTED,
                    priority=3,
                    language="yue-HK",
                    arrived_at=NOW - timedelta(seconds=200),
                    enqueued_at=NOW - timedelta(seconds=200),
                    operator_id=liu.id,
                    connected_at=NOW - timedelta(seconds=90),
                )
            )
            session.commit()
            ids = {"boss": boss.id, "liu": liu.id, "zhao": zhao.id}
        client = app.test_client()
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = str(ids["boss"])
            flask_session["lang"] = "zh"
        assert "坐席现场" in client.get("/console/floor/board").get_data(as_text=True)
        state = client.get("/console/floor/api/board").get_json()
    rows = {row["name"]: row for row in state["operators"]}
    liu_row = rows["刘芳"]
    assert (liu_row["presence"], liu_row["since_seconds"]) == ("busy", 95)
    assert liu_row["caller"]["name"] == "黄伯"
    assert liu_row["caller"]["language_label"] == "粤语"
    # Waited 110 s before the answer, talking for 90 s.
    assert (liu_row["caller"]["waited_seconds"], liu_row["caller"]["talk_seconds"]) == (110, 90)
    assert liu_row["caller"]["number"] != "+861055550123", "the number is masked"
    # 赵强's wrap-up ran out 20 s ago: available since the deadline.
    zhao_row = rows["赵强"]
    assert (zhao_row["presence"], zhao_row["since_seconds"]) == ("available", 20)
    assert zhao_row["languages_label"] == "粤语 / 普通话"
    chen = rows["陈静"]
    assert (chen["presence"], chen["reason_label"], chen["since_seconds"]) == ("away", "培训", 1800)
    assert chen["caller"] is None
    assert state["stats"]["busy_operators"] == 1
