"""A cold transfer's agency leg fails while the operator's hand-over is still under way.

What hotline.transfers.service promises (`_operator_leaves`): the hand-over is claimed by a
conditional UPDATE and made durable, with the conversation's end, before the operator's leg is
removed. So the failure callback (another web worker) either

- comes before the claim: the claim finds the transfer failed, the hand-over is refused
  ("not reached": the operator stays with the caller, nobody leaves the conference), or
- comes after the claim: it finds the caller alone with nobody and sends them back to the
  queue in their old place, while the operator's leg leaves as planned.

The callback is posted from another thread (its own app context, session and connection, as a
second worker has) while the start request waits on Twilio's answer to the REST request named
in each test. Run on PostgreSQL too (HOTLINE_TEST_DB=postgres).
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from sqlalchemy import select

from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.operators.models import Presence
from hotline.queue.models import QueueStatus
from hotline.transfers.models import TransferStatus
from tests.conftest import TwilioCaller
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import ACCOUNT_PATH, BASE_URL, entry_of, operator_of
from tests.operator_queue.test_queue_connect import _connected

from .test_external_transfers import (
    AGENCY_LEG,
    CONFERENCE,
    PARTICIPANTS,
    _agency,
    _leg_status,
    _transfer,
)

#: Twilio's answer to adding the agency's leg.
AGENCY_ADDED = (201, {"call_sid": AGENCY_LEG, "conference_sid": CONFERENCE, "status": "queued"})


def _failure_arrives_during(app, http_client, pattern: str, answer: tuple[int, dict]) -> list:
    """When the app sends the REST request matching `pattern`, the agency leg's "no-answer"
    callback is handled by another worker first; then Twilio's `answer` comes back. Returns
    the callback's responses (one)."""
    seen = []

    def callback() -> None:
        other_worker = TwilioCaller(app.test_client())
        seen.append(_leg_status(other_worker, _transfer(app).id, "no-answer", duration=0))

    def respond(_form):
        worker = threading.Thread(target=callback)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the failure callback did not finish"
        return answer

    http_client.responses.insert(0, (pattern, respond))
    return seen


class Race(NamedTuple):
    client: Any
    operator_id: int
    queued: Any
    operator_leg: str
    response: Any


def _cold_transfer_racing(app, twilio, http_client, operator_client, during) -> Race:
    """A connected caller; the operator starts a cold transfer to an agency, and its leg's
    failure is handled by another worker during the REST request `during(operator_leg)` names
    (a (pattern, Twilio's answer) pair)."""
    agency_id = _agency(app)
    client, operator_id, queued, operator_leg = _connected(
        app, twilio, http_client, operator_client
    )
    seen = _failure_arrives_during(app, http_client, *during(operator_leg))
    response = client.post(
        f"/console/api/transfers/{queued.entry_id}/start",
        data={"choice": f"agency:{agency_id}", "mode": "cold"},
    )
    [callback] = seen
    assert callback.status_code == 204
    return Race(client, operator_id, queued, operator_leg, response)


def _audit_actions(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("transfer_%"))
                .order_by(AuditEntry.id)
            )
        )


def test_a_failure_before_the_claim_refuses_the_hand_over_and_the_operator_stays(
    app, twilio, http_client, operator_client
):
    # Twilio accepts the participant, but its "no-answer" reaches another worker before the
    # start request gets Twilio's answer (and so before the claim).
    client, operator_id, queued, operator_leg, response = _cold_transfer_racing(
        app,
        twilio,
        http_client,
        operator_client,
        lambda _leg: (r"POST .*/Participants\.json$", AGENCY_ADDED),
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "not_reached"
    # Nobody left the conference and the caller was not sent anywhere: only the participant.
    [add] = http_client.requests
    assert (add.method, add.url) == ("POST", f"{PARTICIPANTS}.json")
    transfer = _transfer(app)
    assert transfer.status == TransferStatus.FAILED and transfer.end_status == "no-answer"
    assert transfer.handed_over_at is None and transfer.participant_call_sid == AGENCY_LEG
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.CONNECTED and entry.operator_id == operator_id
    assert entry.ended_at is None and entry.operator_call_sid == operator_leg
    assert operator_of(app, operator_id).presence == Presence.BUSY
    assert _audit_actions(app) == ["transfer_started", "transfer_failed"]
    panel = client.get("/console/api/transfers/current").get_json()
    assert panel["entry_id"] == queued.entry_id and panel["connected"]
    assert panel["transfer"]["status"] == "failed"


def test_a_failure_after_the_claim_sends_the_caller_back_to_the_queue(
    app, twilio, http_client, operator_client
):
    http_client.responses.append((r"POST .*/Participants\.json$", AGENCY_ADDED))
    # The claim is committed; the "no-answer" arrives while the operator's leg is being told
    # not to end the conference (the first request of their leaving).
    client, operator_id, queued, operator_leg, response = _cold_transfer_racing(
        app,
        twilio,
        http_client,
        operator_client,
        lambda leg: (
            rf"POST .*/Participants/{leg}\.json$",
            (200, {"call_sid": leg, "conference_sid": CONFERENCE, "status": "connected"}),
        ),
    )
    # The start itself succeeded (the operator handed over); the panel's next poll has no call.
    assert response.status_code == 200 and response.get_json()["ok"], response.get_json()
    add, keep, redirect, remove = http_client.requests
    assert (add.method, add.url) == ("POST", f"{PARTICIPANTS}.json")
    assert (keep.url, keep.data) == (
        f"{PARTICIPANTS}/{operator_leg}.json",
        {"EndConferenceOnExit": ["false"]},
    )
    # The caller goes back to the queue in their old place ...
    assert redirect.url == f"https://api.twilio.com{ACCOUNT_PATH}/Calls/{queued.sid}.json"
    assert redirect.data["Url"] == [
        f"{BASE_URL}/twilio/queue/requeue?entry={queued.entry_id}&lang={queued.language}"
    ]
    # ... and the operator leaves as planned, into wrap-up.
    assert (remove.method, remove.url) == ("DELETE", f"{PARTICIPANTS}/{operator_leg}.json")
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.WAITING and entry.operator_id is None
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    transfer = _transfer(app)
    assert transfer.status == TransferStatus.FAILED and transfer.handed_over_at is not None
    assert _audit_actions(app) == [
        "transfer_started",
        "transfer_handed_over",
        "transfer_failed",
    ]
    assert client.get("/console/api/transfers/current").get_json()["entry_id"] is None
