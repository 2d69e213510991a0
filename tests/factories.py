"""Test data builders: plain functions over a session, used by the fixtures of tests/cases,
tests/sms, tests/reports, tests/devtools, tests/callers and tests/alerts.

Each builder adds one row, flushes (so it has its id) and returns it; the caller commits. (The
other features' tests keep their own builders until the architecture branches are merged.)
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from hotline.callers.models import Caller
from hotline.calls.models import Call, CallDirection, CallStatus
from hotline.cases.models import Case
from hotline.lines.models import Line
from hotline.operators.models import Operator, Role
from hotline.queue.models import OperatorTalk, QueueEntry, QueueStatus, TalkEnd

#: A test caller's number (test numbers only, never a real person's).
CALLER_PHONE = "+8613123456701"

_usernames = itertools.count(1)


def password_hash(password: str) -> str:
    """A cheap hash: scrypt (the default) costs a noticeable fraction of a second per account."""
    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def make_operator(
    session: Session,
    username: str | None = None,
    *,
    role: Role = Role.OPERATOR,
    password: str | None = None,
    **fields: Any,
) -> Operator:
    """An operator account. Without a password it can only be used by setting the Flask-Login
    session (no hashing at all)."""
    username = username or f"{role.value}{next(_usernames)}"
    operator = Operator(
        username=username,
        display_name=fields.pop("display_name", None) or username,
        role=role,
        password_hash=password_hash(password) if password else "",
        **fields,
    )
    session.add(operator)
    session.flush()
    return operator


def main_line(session: Session) -> Line:
    """The line every test app is seeded with (key "main")."""
    line = session.scalar(select(Line).where(Line.key == "main"))
    assert line is not None, "the test app seeds the main line"
    return line


def make_caller(session: Session, **fields: Any) -> Caller:
    """A caller profile (phone number CALLER_PHONE unless given)."""
    fields.setdefault("phone_number", CALLER_PHONE)
    caller = Caller(**fields)
    session.add(caller)
    session.flush()
    return caller


def make_call(
    session: Session,
    *,
    line_id: int,
    caller_id: int | None,
    direction: str = "inbound",
    status: str = "in-progress",
    created_at: datetime | None = None,
    **fields: Any,
) -> Call:
    """A Call row with a fresh CallSid unless `call_sid` is given."""
    call = Call(
        call_sid=fields.pop("call_sid", None) or "CA" + uuid.uuid4().hex,
        line_id=line_id,
        caller_id=caller_id,
        direction=CallDirection(direction),
        status=CallStatus(status),
        menu_path=fields.pop("menu_path", []),
        created_at=created_at or datetime.now(UTC),
        **fields,
    )
    session.add(call)
    session.flush()
    return call


def make_handled_entry(
    session: Session,
    *,
    line_id: int,
    call_id: int,
    operator_id: int,
    talk_seconds: int = 120,
    ended_at: datetime | None = None,
    **fields: Any,
) -> QueueEntry:
    """A finished conversation: the call's queue entry, answered by `operator_id`, completed
    `talk_seconds` after it was answered (at `ended_at`, now unless given)."""
    ended = ended_at or datetime.now(UTC)
    answered = ended - timedelta(seconds=talk_seconds)
    entry = QueueEntry(
        line_id=line_id,
        call_id=call_id,
        status=QueueStatus.COMPLETED,
        priority=fields.pop("priority", 3),
        arrived_at=answered - timedelta(seconds=60),
        enqueued_at=answered - timedelta(seconds=60),
        operator_id=operator_id,
        connected_at=answered,
        ended_at=ended,
        **fields,
    )
    session.add(entry)
    session.flush()
    session.add(
        OperatorTalk(
            queue_entry_id=entry.id,
            call_id=call_id,
            operator_id=operator_id,
            started_at=answered,
            ended_at=ended,
            ended_by=TalkEnd.CALL_ENDED,
        )
    )
    session.flush()
    return entry


def make_case(
    session: Session,
    *,
    caller_id: int | None,
    line_id: int,
    channel: str = "call",
    scenario: str | None = None,
    operator_id: int | None = None,
) -> Case:
    """A case opened (or continued) the way the product does it."""
    from hotline.cases.lifecycle import open_or_continue_case

    return open_or_continue_case(
        session,
        caller_id=caller_id,
        line_id=line_id,
        channel=channel,
        scenario=scenario,
        operator_id=operator_id,
    )


def voice_urls():
    """The voice URLs as the app's routes build them, for calling the pure renderers directly
    (snapshots then show that a route change is deliberate)."""
    from urllib.parse import urlencode

    from hotline.telephony.twiml import VoiceUrls

    def query(path: str, **params: object) -> str:
        present = {k: v for k, v in params.items() if v is not None}
        return f"{path}?{urlencode(present)}" if present else path

    return VoiceUrls(
        menu_input=lambda node, lang, turn: query(
            "/twilio/voice/input", node=node, lang=lang, turn=turn
        ),
        recorded=lambda lang: query("/twilio/voice/recorded", lang=lang),
        fallback_recorded=lambda lang: query("/twilio/voice/fallback/recorded", lang=lang),
        queue_wait=lambda lang, turn: query("/twilio/voice/wait", lang=lang, turn=turn),
        queue_exit="/twilio/voice/queue-exit",
    )


def make_volunteer(session: Session, **fields: Any) -> Any:
    """A volunteer on the roster (test number +8613800000199 unless given)."""
    from datetime import date

    from hotline.directory.models import ConsentWay, Volunteer

    fields.setdefault("name", "李志愿")
    fields.setdefault("phone_number", "+8613800000199")
    fields.setdefault("district", "东城街道")
    fields.setdefault("consented_on", date(2026, 3, 1))
    fields.setdefault("consent_way", ConsentWay.IN_WRITING)
    volunteer = Volunteer(**fields)
    session.add(volunteer)
    session.flush()
    return volunteer


def make_enrolment(session: Session, *, caller_id: int, line_id: int, **fields: Any) -> Any:
    """A check-in enrolment made the way the product does it (window 09:00-11:00 unless given)."""
    from datetime import time

    from hotline.checkins.service import enrol

    fields.setdefault("window_start", time(9, 0))
    fields.setdefault("window_end", time(11, 0))
    fields.setdefault("consent_method", "elder_in_person")
    fields.setdefault("operator_id", None)
    return enrol(session, caller_id=caller_id, line_id=line_id, **fields)


def make_family_contact(
    session: Session, *, caller_id: int, phone_number: str, operator_id: int, **fields: Any
) -> Any:
    """A family contact of `caller_id` with the elder's consent in force (recorded in person by
    `operator_id`) who may receive alerts, unless the fields say otherwise."""
    from hotline.callers.models import ConsentMethod, FamilyContact

    fields.setdefault("name", "李女士")
    fields.setdefault("relation", "女儿")
    fields.setdefault("may_receive_alerts", True)
    fields.setdefault("consented_at", datetime.now(UTC))
    fields.setdefault("consent_method", ConsentMethod.ELDER_IN_PERSON)
    contact = FamilyContact(
        caller_id=caller_id, phone_number=phone_number, consent_recorded_by=operator_id, **fields
    )
    session.add(contact)
    session.flush()
    return contact
