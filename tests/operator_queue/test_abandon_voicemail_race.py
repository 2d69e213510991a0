"""The race behind "never roll back someone else's work" (issue 11): a caller abandons the queue
(the terminal status callback, after the callback threshold) while a voicemail for the same
call is being stored. Both owe the same person a callback. Whatever the order, and when both
run at once on PostgreSQL: one active callback row carrying both reasons, the call's row and
its recording intact."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from conftest import TwilioCaller, add_main_line
from hotline.callbacks.models import ACTIVE_STATUSES, CallbackRequest
from hotline.calls.models import Call, CallStatus
from hotline.db import db
from hotline.queue.models import QueueEntry, QueueStatus

from .queue_support import *  # noqa: F403
from .queue_support import reach_queue

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NUMBER = "+8613123456790"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "7" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_app(request, make_app, tmp_path):
    """The app on SQLite, then on a PostgreSQL database of its own, with the 'main' line."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    application = make_app(DATABASE_URL=url)
    with application.app_context():
        db.create_all()
        add_main_line()
    yield application


def _abandon(twilio: TwilioCaller, queued) -> None:
    response = twilio.post(
        "/twilio/voice/status",
        {**queued.params, "CallStatus": "completed", "SequenceNumber": "9", "CallDuration": "60"},
    )
    assert response.status_code == 204


def _voicemail(twilio: TwilioCaller, queued) -> None:
    response = twilio.post(
        "/twilio/voice/fallback/recorded?lang=zh-CN",
        {
            **queued.params,
            "CallStatus": "in-progress",
            "RecordingUrl": RECORDING,
            "RecordingDuration": "14",
            "RecordingSid": "RE" + "7" * 32,
        },
    )
    assert response.status_code == 200


def _assert_one_callback_and_nothing_lost(app, queued, number: str = NUMBER) -> None:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(CallbackRequest).where(
                    CallbackRequest.phone_number == number,
                    CallbackRequest.status.in_(ACTIVE_STATUSES),
                )
            )
        )
        assert len(rows) == 1, [(r.id, r.reason, r.note) for r in rows]
        assert "abandoned" in rows[0].note or rows[0].reason.value == "abandoned"
        assert "voicemail" in rows[0].note or rows[0].reason.value == "voicemail"
        call = db.session.scalar(select(Call).where(Call.call_sid == queued.sid))
        assert call is not None and call.status == CallStatus.COMPLETED
        assert call.recording_url == RECORDING and call.recording_duration_seconds == 14
        entry = db.session.get(QueueEntry, queued.entry_id)
        assert entry.status == QueueStatus.ABANDONED and entry.callback_request_id == rows[0].id


def _queued_for_a_while(app, clock, number: str = NUMBER):
    twilio = TwilioCaller(app.test_client())
    queued = reach_queue(twilio, app, from_=number)
    clock.shift(60)  # past the line's abandon-callback threshold (20 s)
    return twilio, queued


@pytest.mark.parametrize("abandon_first", [True, False], ids=["abandon-first", "voicemail-first"])
def test_abandon_and_voicemail_in_either_order_owe_one_callback(engine_app, abandon_first):
    with time_machine.travel(START, tick=False) as clock:
        twilio, queued = _queued_for_a_while(engine_app, clock)
        steps = [_abandon, _voicemail] if abandon_first else [_voicemail, _abandon]
        for step in steps:
            step(twilio, queued)
    _assert_one_callback_and_nothing_lost(engine_app, queued)


def _at_once(app, queued, steps) -> list[BaseException]:
    """Run each step in its own thread (its own test client, so its own session), released
    together by a barrier; returns what they raised."""
    barrier = threading.Barrier(len(steps))
    errors: list[BaseException] = []

    def run(step) -> None:
        try:
            client = TwilioCaller(app.test_client())
            barrier.wait(timeout=30)
            step(client, queued)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.parametrize(
    "engine_app", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_abandon_and_voicemail_at_the_same_moment_owe_one_callback(engine_app):
    """Two threads, two sessions, on PostgreSQL (SQLite has one writer: no interleaving)."""
    for _round in range(3):
        with time_machine.travel(START, tick=False) as clock:
            number = f"+861312345679{_round}"  # a new person each round
            _twilio, queued = _queued_for_a_while(engine_app, clock, number)
            errors = _at_once(engine_app, queued, (_abandon, _voicemail))
        assert not errors, errors
        _assert_one_callback_and_nothing_lost(engine_app, queued, number)
