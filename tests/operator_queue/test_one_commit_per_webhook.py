"""One commit per webhook: services flush, the webhook guard commits the effects and the
WebhookEvent once (issue 11, rule 3). Counted with the engines' `commit` event: a real COMMIT
sent to the database (releasing a savepoint is a different event and does not count)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import time_machine
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, Engine

from hotline.calls.models import WebhookEvent
from hotline.db import db

from .queue_support import *  # noqa: F403
from .queue_support import call_status, entry_of, follow, queue_exit, reach_queue, wait, xml

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@contextmanager
def counted_commits():
    """Yield a list that collects one entry per COMMIT of any session while inside."""
    commits: list[Connection] = []

    def _count(connection: Connection) -> None:
        commits.append(connection)

    event.listen(Engine, "commit", _count)
    try:
        yield commits
    finally:
        event.remove(Engine, "commit", _count)


def _webhook_events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def test_the_incoming_call_and_the_menu_answer_commit_once_each(app, twilio):
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_="+8613123456701")
    before = _webhook_events(app)
    with counted_commits() as commits:
        first = twilio.post("/twilio/voice", params)
    assert first.status_code == 200 and len(commits) == 1
    assert _webhook_events(app) == before + 1  # the WebhookEvent is in that one commit
    with counted_commits() as commits:
        menu = follow(twilio, first, params)  # the language offer passes in silence
    assert len(commits) == 1
    with counted_commits() as commits:
        person = follow(twilio, menu, params, digits="0")  # "a person, please": the enqueue
    assert xml(person).find("Enqueue") is not None and len(commits) == 1


def test_a_wait_round_and_the_queue_exit_commit_once_each(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, from_="+8613123456702")
        with counted_commits() as commits:
            assert wait(twilio, queued, queue_time=5).status_code == 200
        assert len(commits) == 1
        clock.shift(60)
        with counted_commits() as commits:
            # Hung up after the threshold: the entry ends, a callback is owed (the CallbackOwed
            # subscriber runs inside the same transaction).
            assert queue_exit(twilio, queued, "hangup", queue_time=60).status_code == 200
        assert len(commits) == 1
        assert entry_of(app, queued.entry_id).callback_request_id is not None


def test_status_callbacks_commit_once_terminal_or_not(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, from_="+8613123456703")
        with counted_commits() as commits:
            assert call_status(twilio, queued, "in-progress", sequence=2).status_code == 204
        assert len(commits) == 1
        clock.shift(60)
        with counted_commits() as commits:
            # Terminal: CallEnded runs the queue, cases and callbacks subscribers, no commit.
            assert call_status(twilio, queued, "completed", sequence=3).status_code == 204
        assert len(commits) == 1
        assert entry_of(app, queued.entry_id).callback_request_id is not None


def test_the_recording_action_commits_once_and_a_retry_commits_nothing(app, twilio):
    queued_sid = twilio.new_call_sid()
    params = twilio.call_params(queued_sid, from_="+8613123456704")
    twilio.post("/twilio/voice", params)
    recorded = {
        **params,
        "CallStatus": "in-progress",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "RecordingDuration": "12",
        "RecordingSid": "RE" + "1" * 32,
    }
    with counted_commits() as commits:
        first = twilio.post("/twilio/voice/recorded?lang=zh-CN", recorded)
    assert first.status_code == 200 and len(commits) == 1
    with counted_commits() as commits:
        again = twilio.post("/twilio/voice/recorded?lang=zh-CN", recorded)  # Twilio's retry
    assert again.get_data() == first.get_data() and len(commits) == 0


def test_a_failing_view_commits_nothing_and_still_answers(app, twilio, monkeypatch):
    from hotline.voice import flow

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(flow, "start_inbound_call", broken)
    before = _webhook_events(app)
    with counted_commits() as commits:
        response = twilio.post("/twilio/voice", twilio.call_params(twilio.new_call_sid()))
    assert response.status_code == 200 and xml(response).find("Record") is not None
    assert len(commits) == 0 and _webhook_events(app) == before


def test_take_next_commits_only_its_documented_claims(app, twilio, http_client, operator_client):
    """The console's "take next" commits twice, both before an external call: the claim
    (before ringing the operator) and the operator's call sid (before dequeuing the caller).
    The operator's answer webhook then commits once."""
    client, operator_id = operator_client
    queued = reach_queue(twilio, app, from_="+8613123456705")
    with counted_commits() as commits:
        response = client.post("/console/api/queue/take-next", data={"via": "phone"})
    assert response.status_code == 200, response.get_json()
    assert len(commits) == 2
    assert [r.method for r in http_client.requests[-2:]] == ["POST", "POST"]

    entry = entry_of(app, queued.entry_id)
    with counted_commits() as commits:
        answered = twilio.post(
            f"/twilio/queue/operator?entry={entry.id}&op={operator_id}",
            twilio.call_params(
                entry.operator_call_sid,
                from_="+861012345678",
                to="+8613123456781",
                CallStatus="in-progress",
                Direction="outbound-api",
            ),
        )
    assert xml(answered).find("Dial") is not None and len(commits) == 1
