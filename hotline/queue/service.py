"""The operator queue (minimal: priorities and arrival; the full queue is its own feature)."""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session

from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.timeutil import utcnow


class Priority(enum.IntEnum):
    """Lower is served first; within a priority, the original arrival time decides."""

    URGENT = 0
    CALLBACK = 1
    OLDER = 2
    NORMAL = 3


def priority_for(
    call: Call, caller: Caller | None, *, is_callback: bool = False
) -> tuple[Priority, str]:
    """Why this caller waits where they wait: (priority, reason in words)."""
    if call.scenario == "emergency":
        return Priority.URGENT, "emergency"
    if is_callback:
        return Priority.CALLBACK, "callback"
    if caller is not None and caller.is_older_caller:
        return Priority.OLDER, "older_caller"
    return Priority.NORMAL, "normal"


def enqueue(session: Session, call: Call, caller: Caller | None, *, reason: str) -> Priority:
    """Record that `call` reached the operator queue (keeping its first arrival time)."""
    priority, _why = priority_for(call, caller)
    if call.queued_at is None:
        call.queued_at = utcnow()
    return priority
