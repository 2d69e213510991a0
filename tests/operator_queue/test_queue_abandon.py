"""Hanging up in the queue: a callback after the threshold, a counted short abandon before it,
whichever of Twilio's two notices (the <Enqueue> action, the status callback) comes first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.calls.models import CallOutcome, CallStatus
from hotline.db import db
from hotline.queue.models import QueueStatus

from .queue_support import *  # noqa: F403
from .queue_support import call_of, call_status, entry_of, queue_exit, reach_queue

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _callbacks(app) -> list[CallbackRequest]:
    with app.app_context():
        rows = list(db.session.scalars(select(CallbackRequest).order_by(CallbackRequest.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


@pytest.mark.parametrize(
    "notices",
    [("exit",), ("status",), ("exit", "status"), ("status", "exit")],
    ids=["enqueue-action", "status-callback", "action-then-status", "status-then-action"],
)
def test_hanging_up_after_the_threshold_owes_one_callback(app, twilio, notices):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, from_="+8613123456771")
        arrived = entry_of(app, queued.entry_id).arrived_at
        clock.shift(25)
        for notice in notices:
            if notice == "exit":
                assert queue_exit(twilio, queued, "hangup", queue_time=25).status_code == 200
            else:
                assert call_status(twilio, queued, "completed").status_code == 204
    [callback] = _callbacks(app)
    assert callback.reason == CallbackReason.ABANDONED
    assert callback.phone_number == "+8613123456771"
    assert callback.original_arrival_at == arrived, "the callback keeps the caller's place"
    assert entry_of(app, queued.entry_id).status == QueueStatus.ABANDONED
    assert entry_of(app, queued.entry_id).callback_request_id == callback.id
    call = call_of(app, queued.sid)
    assert call.outcome == CallOutcome.ABANDONED
    if "status" in notices:
        assert call.status == CallStatus.COMPLETED, "the status change is kept beside the callback"


@pytest.mark.parametrize("notice", ["exit", "status"])
def test_a_quick_hang_up_is_counted_but_not_called_back(app, twilio, notice):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app)
        clock.shift(10)
        if notice == "exit":
            queue_exit(twilio, queued, "hangup", queue_time=10)
        else:
            call_status(twilio, queued, "completed")
    assert _callbacks(app) == []
    assert call_of(app, queued.sid).outcome == CallOutcome.SHORT_ABANDON
    assert entry_of(app, queued.entry_id).status == QueueStatus.ABANDONED


def test_the_threshold_is_the_lines_setting(app, twilio):
    from hotline.lines.models import Line

    with app.app_context():
        db.session.scalar(select(Line)).abandon_callback_after_seconds = 5
        db.session.commit()
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app)
        clock.shift(6)
        queue_exit(twilio, queued, "hangup", queue_time=6)
    assert [c.reason for c in _callbacks(app)] == [CallbackReason.ABANDONED]


def test_abandoning_merges_into_an_existing_callback_for_the_same_number(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        first = reach_queue(twilio, app, from_="+8613123456772")
        clock.shift(30)
        queue_exit(twilio, first, "hangup", queue_time=30)
        clock.shift(60)
        second = reach_queue(twilio, app, from_="+8613123456772")
        clock.shift(30)
        queue_exit(twilio, second, "hangup", queue_time=30)
    [callback] = _callbacks(app)
    assert callback.original_arrival_at == entry_of(app, first.entry_id).arrived_at
    assert "also abandoned" in callback.note
