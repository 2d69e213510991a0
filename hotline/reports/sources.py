"""What reports and alerts read from the other features: one place for every cross-feature read.

- queue: `hotline.queue.service.live_snapshot` (callers waiting, longest wait, operators free);
- cases: `Case.is_urgent`, `Case.escalated_at`, `hotline.cases.lifecycle.overdue_escalations`;
- callbacks: `CallbackAttempt` outcomes;
- clock: `hotline.schedule.last_heartbeat`, and this feature's own outbox sweep;
- operators: registered supervisors (active supervisors and admins with a phone number).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.callbacks.models import (
    AttemptOutcome,
    CallbackAttempt,
    CallbackRequest,
    CallbackStatus,
)
from hotline.cases import lifecycle
from hotline.cases.models import ACTIVE_CASE_STATUSES, Case, CaseStatus
from hotline.lines.models import Line
from hotline.queue import service as queue_service
from hotline.schedule import last_heartbeat
from hotline.sms.models import SmsSweep
from hotline.timeutil import as_utc


def live_snapshot(session: Session, line: Line) -> tuple[int, float | None, int]:
    """(callers waiting on `line` now, the longest current wait (None when nobody waits),
    operators free), by the queue feature's definitions."""
    snap = queue_service.live_snapshot(session, line_id=line.id)
    waiting = int(snap["waiting"])
    return (
        waiting,
        float(snap["longest_wait_seconds"]) if waiting else None,
        int(snap["available_operators"]),
    )


# --------------------------------------------------------------------------- cases


def urgent_or_escalated_cases(session: Session, line_id: int | None) -> list[Case]:
    """Active cases that are urgent or escalated, of one line or all."""
    query = select(Case).where(
        Case.status.in_(ACTIVE_CASE_STATUSES),
        (Case.status == CaseStatus.ESCALATED) | Case.is_urgent.is_(True),
    )
    if line_id is not None:
        query = query.where(Case.line_id == line_id)
    return list(session.scalars(query.order_by(Case.id)))


def case_is_escalated(case: Case) -> bool:
    return case.status == CaseStatus.ESCALATED


def escalated_count(session: Session, line_id: int, start: datetime, end: datetime) -> int:
    """Cases of the line escalated in [start, end)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.line_id == line_id, Case.escalated_at >= start, Case.escalated_at < end)
        )
        or 0
    )


def overdue_escalations(
    session: Session, now: datetime, line_id: int | None
) -> list[tuple[Case, float | None]]:
    """(case, seconds past its deadline) for each escalation past its deadline."""
    return [
        (
            case,
            (now - case.escalation_deadline_at).total_seconds()
            if case.escalation_deadline_at
            else None,
        )
        for case in lifecycle.overdue_escalations(session, now)
        if line_id is None or case.line_id == line_id
    ]


# --------------------------------------------------------------------------- callbacks


def callbacks_with_failed_attempts(session: Session, line_id: int, since: datetime) -> int:
    """Callbacks still pending whose attempt since `since` did not reach a person."""
    return (
        session.scalar(
            select(func.count(func.distinct(CallbackAttempt.callback_id)))
            .select_from(CallbackAttempt)
            .join(CallbackRequest, CallbackRequest.id == CallbackAttempt.callback_id)
            .where(
                CallbackRequest.line_id == line_id,
                CallbackRequest.status == CallbackStatus.PENDING,
                CallbackAttempt.outcome.is_not(None),
                CallbackAttempt.outcome != AttemptOutcome.PERSON,
                CallbackAttempt.ended_at >= since,
            )
        )
        or 0
    )


# --------------------------------------------------------------------------- staff


# --------------------------------------------------------------------------- clock


def clock_last_heartbeat(session: Session) -> datetime | None:
    """When a clock process was last seen alive (None: never).

    The newer of two signs of life: the clock's heartbeat row (its heartbeat job, every 30 s)
    and this feature's outbox sweep (every 5 s). Either one means the process runs.
    """
    beat = last_heartbeat(session)
    seen = [
        as_utc(session.scalar(select(func.max(SmsSweep.swept_at)))),
        beat.last_seen_at if beat is not None else None,
    ]
    seen = [value for value in seen if value is not None]
    return max(seen) if seen else None
