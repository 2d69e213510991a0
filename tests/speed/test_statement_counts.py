"""Statements per webhook: how many SQL statements and COMMITs each hot path sends (issue 16,
item 3). Each test asserts a ceiling equal to the count measured when it was written, so a hot
path that grows fails here; lower a ceiling when a change makes a path cheaper (the table in
bench/README.md, "Statements per webhook", lists them).

Counted with the engines' `before_cursor_execute` (every statement sent, BEGIN excluded on
SQLite where the driver sends it implicitly) and `commit` events, on a warm app: one call has
already gone through the same path, so once-per-process work is not counted. The same counts
hold on SQLite and PostgreSQL. Every webhook pays two for its idempotency: the lookup of an
earlier answer (which also reads the settings counter of the line cache) and its record
(INSERT ... ON CONFLICT DO NOTHING).

| hot path | statements | commits |
| --- | --- | --- |
| incoming call (`/twilio/voice`) | 9 (is the caller an enrolled elder: issue 14) | 1 |
| menu answer, silent retry | 6 | 1 |
| menu answer, key 0 (enqueue) | 8 | 1 |
| wait round (`/twilio/voice/wait`) | 6 | 1 |
| status callback, not terminal | 4 | 1 |
| status callback, terminal (`completed`) | 27 | 1 |
| take-next (console API) | 11 (the presence log row of the claim: issue 15) | 2 (the documented claims) |
| operator answers (`/twilio/queue/operator`) | 10 (the operator's stretch of talk opens: issue 15) | 1 |
| conference event (`participant-join`) | 4 | 1 |
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import time_machine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import (
    call_status,
    entry_of,
    follow,
    reach_queue,
    wait,
    xml,
)

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
OPERATOR_PHONE = "+8613123456781"
LINE_NUMBER = "+861012345678"


@dataclass
class Counted:
    """What one block sent to the database."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0

    def check(self, statements: int, commits: int) -> None:
        """Fail when the block sent more statements or commits than its ceiling."""
        listing = "\n".join(self.statements)
        assert len(self.statements) <= statements, (
            f"{len(self.statements)} statements, ceiling {statements}:\n{listing}"
        )
        assert self.commits <= commits, f"{self.commits} commits, ceiling {commits}"


@contextmanager
def counted() -> Iterator[Counted]:
    """Count the statements and COMMITs of every engine while inside."""
    result = Counted()

    def _statement(conn, cursor, statement, parameters, context, executemany) -> None:
        result.statements.append(statement.split("\n")[0][:120])

    def _commit(connection: Connection) -> None:
        result.commits += 1

    event.listen(Engine, "before_cursor_execute", _statement)
    event.listen(Engine, "commit", _commit)
    try:
        yield result
    finally:
        event.remove(Engine, "before_cursor_execute", _statement)
        event.remove(Engine, "commit", _commit)


def _menu_path(twilio, from_: str):
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_=from_)
    return sid, params


def test_incoming_call_and_menu_answers(app, twilio):
    """Incoming call, the silent retry (language offer passes), key 0 (the enqueue)."""
    reach_queue(twilio, app, from_="+8613123456710", first_wait=False)  # warm-up
    _, params = _menu_path(twilio, "+8613123456711")
    with counted() as incoming:
        first = twilio.post("/twilio/voice", params)
    assert first.status_code == 200
    with counted() as retry:
        menu = follow(twilio, first, params)
    with counted() as person:
        queued = follow(twilio, menu, params, digits="0")
    assert xml(queued).find("Enqueue") is not None
    # A first-time caller: 7 (issue 16: the profile is inserted with its last contact, and
    # the check-in query is skipped for a profile this call created); was 9.
    incoming.check(statements=7, commits=1)
    retry.check(statements=6, commits=1)
    person.check(statements=8, commits=1)


def test_incoming_call_from_a_returning_caller(app, twilio):
    """A caller with a profile: check-ins ask once whether they are an enrolled elder (issue 14)
    and the profile's last contact is updated."""
    reach_queue(twilio, app, from_="+8613123456718", first_wait=False)  # warm-up, and the profile
    _, params = _menu_path(twilio, "+8613123456718")
    with counted() as incoming:
        assert twilio.post("/twilio/voice", params).status_code == 200
    incoming.check(statements=8, commits=1)


def test_final_status_of_a_call_never_queued(app, twilio):
    """A caller who hung up in the menu: the queue has nothing to settle (issue 16: no queue
    entry lookup for a call without `queued_at`)."""
    for number in ("+8613123456719", "+8613123456720"):
        sid, params = _menu_path(twilio, number)
        assert twilio.post("/twilio/voice", params).status_code == 200
        with counted() as terminal:
            response = twilio.post(
                "/twilio/voice/status",
                {**params, "CallStatus": "completed", "CallDuration": "12", "SequenceNumber": "3"},
            )
        assert response.status_code == 204
    terminal.check(statements=4, commits=1)


def test_wait_round(app, twilio):
    """Twilio's waitUrl round for a caller in the queue."""
    with time_machine.travel(START, tick=False):
        reach_queue(twilio, app, from_="+8613123456712")  # warm-up
        queued = reach_queue(twilio, app, from_="+8613123456713")
        with counted() as round_:
            assert wait(twilio, queued, queue_time=30).status_code == 200
    round_.check(statements=6, commits=1)


def test_status_callbacks(app, twilio):
    """The caller's status callback, in progress and then completed (the CallEnded work)."""
    with time_machine.travel(START, tick=False) as clock:
        warm = reach_queue(twilio, app, from_="+8613123456714")
        call_status(twilio, warm, "in-progress", sequence=2)
        queued = reach_queue(twilio, app, from_="+8613123456715")
        with counted() as ongoing:
            assert call_status(twilio, queued, "in-progress", sequence=2).status_code == 204
        clock.shift(60)
        call_status(twilio, warm, "completed", sequence=3)
        with counted() as terminal:
            assert call_status(twilio, queued, "completed", sequence=3).status_code == 204
    ongoing.check(statements=4, commits=1)
    # 26: the abandoned entry's transition reads its row back with RETURNING (issue 16); was 27.
    terminal.check(statements=26, commits=1)


def _take(client):
    return client.post("/console/api/queue/take-next", data={"via": "phone"})


def _conference_event(twilio, entry_id: int, call_sid: str, kind: str, sequence: int):
    return twilio.post(
        f"/twilio/queue/conference-status?entry={entry_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "ConferenceSid": "CF" + "c" * 32,
            "FriendlyName": "x",
            "StatusCallbackEvent": kind,
            "CallSid": call_sid,
            "SequenceNumber": str(sequence),
        },
    )


def _connect(app, twilio, client, operator_id: int, from_: str):
    """A caller in the queue taken by the operator, who answers; returns (queued, counts)."""
    queued = reach_queue(twilio, app, from_=from_)
    with counted() as take:
        response = _take(client)
    assert response.status_code == 200, response.get_json()
    entry = entry_of(app, queued.entry_id)
    with counted() as answer:
        answered = twilio.post(
            f"/twilio/queue/operator?entry={entry.id}&op={operator_id}",
            twilio.call_params(
                entry.operator_call_sid,
                from_=LINE_NUMBER,
                to=OPERATOR_PHONE,
                CallStatus="in-progress",
                Direction="outbound-api",
            ),
        )
    assert xml(answered).find("Dial") is not None
    with counted() as join:
        assert (
            _conference_event(twilio, entry.id, queued.sid, "participant-join", 1).status_code < 300
        )
    return queued, take, answer, join


def test_take_next_and_conference_events(app, twilio, operator_client):
    """Take-next on the console, the operator's answer webhook, the conference join event."""
    client, operator_id = operator_client
    first, *_ = _connect(app, twilio, client, operator_id, "+8613123456716")  # warm-up
    _conference_event(twilio, first.entry_id, first.sid, "participant-leave", 2)
    # End the first call so the operator can take the next.
    call_status(twilio, first, "completed", sequence=9)
    queued, take, answer, join = _connect(app, twilio, client, operator_id, "+8613123456717")
    # 10 since skills routing (issue 15): it reads the candidates' lines for their "offer to
    # anyone after" threshold.
    # 11: the claim writes the operator's finished presence period (issue 15, presence log).
    take.check(statements=11, commits=2)
    # 9: the transition reads its row back with RETURNING, no refresh (issue 16: was 9, then 8),
    # and the answer opens the operator's stretch of talk, one INSERT into operator_talks
    # (issue 15: the operator's day credits each operator with their own stretches).
    answer.check(statements=9, commits=1)
    join.check(statements=4, commits=1)
