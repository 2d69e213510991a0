"""Queue test helpers and fixtures: operators, callers reaching the queue, Twilio's queue and
conference requests as signed webhooks.

The folder is `operator_queue`, not `queue`: as a package `queue` would shadow the standard
library's module. Test modules star-import the fixtures (listed in __all__) and import the
helpers by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select

from hotline.calls.models import Call
from hotline.db import db
from hotline.operators.models import Operator, Presence, Role
from hotline.queue.models import QueueEntry
from hotline.timeutil import utcnow
from tests import factories

__all__ = ["make_operator", "operator_client", "csrf_on"]

BASE_URL = "http://localhost"
#: The REST path prefix of the test account (tests/conftest.py's TEST_ACCOUNT_SID).
ACCOUNT_PATH = "/2010-04-01/Accounts/" + "AC" + "1" * 32
QUEUE_SID = "QU" + "a" * 32
PASSWORD = "correct horse battery"


def xml(response) -> ET.Element:
    """Parse a TwiML answer (after checking it is one)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data())


def spoken(element: ET.Element) -> str:
    return "".join(element.itertext())


def path_of(url: str) -> str:
    """A URL the app rendered, as the path the test client posts to."""
    return url[len(BASE_URL) :] if url.startswith(BASE_URL) else url


@dataclass
class QueuedCall:
    """A caller the test put in the queue."""

    sid: str
    params: dict
    entry_id: int
    language: str = "zh-CN"

    def in_progress(self, **extra) -> dict:
        return {**self.params, "CallStatus": "in-progress", **extra}


@pytest.fixture
def make_operator(app):
    """make_operator("lin", phone_number="+8613...", presence=Presence.AVAILABLE) -> id."""

    def _make(
        username: str = "op1",
        *,
        role: Role = Role.OPERATOR,
        password: str = PASSWORD,
        phone_number: str | None = "+8613123456781",
        presence: Presence = Presence.AVAILABLE,
        seen_at: datetime | None = None,
        **fields,
    ) -> int:
        with app.app_context():
            operator = factories.make_operator(
                db.session,
                username,
                role=role,
                password=password,
                phone_number=phone_number,
                presence=presence,
                last_seen_at=seen_at or utcnow(),
                **fields,
            )
            db.session.commit()
            return operator.id

    return _make


def login(client, username: str, password: str = PASSWORD) -> None:
    response = client.post("/console/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def follow(twilio, response, params: dict, *, digits: str | None = None, speech: str | None = None):
    """Act like Twilio on a menu: post the Gather action with input, or the Redirect on silence."""
    root = xml(response)
    gather = root.find("Gather")
    assert gather is not None, response.get_data(as_text=True)
    extra = {}
    if digits is None and speech is None:
        url = root.find("Redirect").text
    else:
        url = gather.get("action")
        if digits is not None:
            extra["Digits"] = digits
        if speech is not None:
            extra.update(SpeechResult=speech, Confidence="0.91")
    return twilio.post(url, {**params, "CallStatus": "in-progress", **extra})


def reach_queue(
    twilio,
    app,
    *,
    from_: str = "+8613123456799",
    first_wait: bool = True,
    speech: str | None = None,
) -> QueuedCall:
    """A caller rings, lets the language offer pass, presses 0 (or says `speech`) and waits.

    With `first_wait`, Twilio's first waitUrl request (which tells us the QueueSid) is made too.
    """
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_=from_)
    first = twilio.post("/twilio/voice", params)
    root = xml(first)
    if root.find("Enqueue") is None:
        menu = follow(twilio, first, params)
        if speech is None:
            person = follow(twilio, menu, params, digits="0")
        else:
            person = follow(twilio, menu, params, speech=speech)
        root = xml(person)
    enqueue = root.find("Enqueue")
    assert enqueue is not None, ET.tostring(root, encoding="unicode")
    language = enqueue.get("waitUrl").split("lang=")[-1].split("&")[0]
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == sid))
        entry = db.session.scalar(select(QueueEntry).where(QueueEntry.call_id == call.id))
        entry_id = entry.id
    queued = QueuedCall(sid, params, entry_id, language)
    if first_wait:
        wait(twilio, queued)
    return queued


def wait(twilio, queued: QueuedCall, *, queue_time: int = 0, url: str | None = None):
    """Twilio asks the waitUrl (or a Redirect inside it) what to play."""
    path = url or f"/twilio/voice/wait?lang={queued.language}"
    return twilio.post(
        path_of(path),
        queued.in_progress(
            QueueSid=QUEUE_SID,
            QueuePosition="1",
            QueueTime=str(queue_time),
            AvgQueueTime="0",
            CurrentQueueSize="1",
            MaxQueueSize="100",
        ),
    )


def press(twilio, queued: QueuedCall, wait_document, *, digits=None, speech=None):
    """Answer the wait document's first <Gather> with a key or words."""
    gather = xml(wait_document).find("Gather")
    assert gather is not None
    extra = {"QueueSid": QUEUE_SID}
    if digits is not None:
        extra["Digits"] = digits
    if speech is not None:
        extra.update(SpeechResult=speech, Confidence="0.9")
    return twilio.post(path_of(gather.get("action")), queued.in_progress(**extra))


def queue_exit(twilio, queued: QueuedCall, result: str, queue_time: int = 0):
    """Twilio's <Enqueue> action."""
    return twilio.post(
        "/twilio/voice/queue-exit",
        queued.in_progress(QueueResult=result, QueueSid=QUEUE_SID, QueueTime=str(queue_time)),
    )


def call_status(twilio, queued: QueuedCall, status: str, sequence: int = 5, duration: int = 60):
    """The caller's call status callback."""
    return twilio.post(
        "/twilio/voice/status",
        {
            **queued.params,
            "CallStatus": status,
            "SequenceNumber": str(sequence),
            "CallDuration": str(duration),
        },
    )


def entry_of(app, entry_id: int) -> QueueEntry:
    with app.app_context():
        entry = db.session.get(QueueEntry, entry_id)
        db.session.expunge(entry)
        return entry


def operator_of(app, operator_id: int) -> Operator:
    with app.app_context():
        operator = db.session.get(Operator, operator_id)
        db.session.expunge(operator)
        return operator


def call_of(app, sid: str) -> Call:
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == sid))
        db.session.expunge(call)
        return call


@pytest.fixture
def csrf_on(app_config):
    """CSRF checks on (request it before `app`, `live_server`, `twilio`)."""
    app_config["WTF_CSRF_ENABLED"] = True


@pytest.fixture
def operator_client(app, make_operator):
    """A signed-in operator's test client: (client, operator_id)."""
    operator_id = make_operator("lin", display_name="林坐席")
    client = app.test_client()
    login(client, "lin")
    return client, operator_id
