"""Adapters: what reports and alerts read from features built alongside this one.

Each function names the interface it expects (the queue's `live_snapshot`, the cases'
`overdue_escalations` and `Case.is_urgent`, the clock heartbeat) and uses it when it exists; until
then it falls back to the rows every feature already has (calls, operators, cases), so the
numbers are right either way. Keep every cross-feature read here, so there is one place to
adjust when an interface changes.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.calls.models import Call, CallDirection
from hotline.cases.models import Case, CaseStatus
from hotline.lines.models import Line
from hotline.operators.models import Operator, Presence, Role
from hotline.timeutil import as_utc

if TYPE_CHECKING:  # pragma: no cover
    from hotline.reports.metrics import LiveNumbers

log = logging.getLogger(__name__)

#: Cases that are finished: no alert is about them any more.
CLOSED_CASE_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
#: A queued call with no end recorded for this long is a lost status callback, not a caller.
STALE_QUEUE_ENTRY = timedelta(hours=3)
#: Operators whose console has not polled for this long are not counted as free.
PRESENCE_FRESHNESS = timedelta(minutes=3)


def _optional(module: str, name: str) -> Any:
    """`module.name` when both exist (a feature being built may not have landed yet)."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError:
        return None


# --------------------------------------------------------------------------- queue


def live_snapshot(session: Session, line: Line, now: datetime) -> LiveNumbers:
    """Waiting callers, longest current wait and free operators of `line`.

    Uses `hotline.queue.service.live_snapshot(session, line_id=...)` when the queue feature
    provides it; otherwise counts from the calls and operators tables.
    """
    from hotline.reports.metrics import LiveNumbers

    snapshot_fn = _optional("hotline.queue.service", "live_snapshot")
    if snapshot_fn is not None:
        snap = snapshot_fn(session, line_id=line.id)
        if isinstance(snap, dict):
            waiting = _first(snap, "waiting", "waiting_count", "queue_size", default=None)
            longest = _first(
                snap, "longest_wait_seconds", "longest_wait", "oldest_wait_seconds", default=None
            )
            free = _first(
                snap, "available_operators", "operators_available", "available", default=None
            )
            if waiting is not None and free is not None:
                return LiveNumbers(
                    waiting=_count(waiting),
                    longest_wait_seconds=_seconds(longest) if _count(waiting) else None,
                    available_operators=_count(free),
                )
        log.warning("queue live_snapshot returned an unexpected shape; counting from calls")
    return _live_from_rows(session, line, now)


def _first(data: dict, *names: str, default: Any) -> Any:
    for name in names:
        if name in data:
            return data[name]
    return default


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple | set) else int(value or 0)


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _live_from_rows(session: Session, line: Line, now: datetime) -> LiveNumbers:
    from hotline.reports.metrics import LiveNumbers

    oldest = session.execute(
        select(func.count(), func.min(Call.queued_at)).where(
            Call.line_id == line.id,
            Call.direction == CallDirection.INBOUND,
            Call.queued_at.is_not(None),
            Call.queued_at >= now - STALE_QUEUE_ENTRY,
            Call.answered_at.is_(None),
            Call.ended_at.is_(None),
            Call.outcome.is_(None),
        )
    ).one()
    waiting, first_queued = oldest
    first_queued = as_utc(first_queued)
    free = session.scalar(
        select(func.count())
        .select_from(Operator)
        .where(
            Operator.is_active,
            Operator.presence == Presence.AVAILABLE,
            (Operator.last_seen_at.is_(None)) | (Operator.last_seen_at >= now - PRESENCE_FRESHNESS),
        )
    )
    return LiveNumbers(
        waiting=waiting or 0,
        longest_wait_seconds=(now - first_queued).total_seconds() if first_queued else None,
        available_operators=free or 0,
    )


# --------------------------------------------------------------------------- cases


def _is_urgent_column():
    """`Case.is_urgent` as a column when the cases feature adds one, else None."""
    attr = getattr(Case, "is_urgent", None)
    return attr if attr is not None and hasattr(attr, "is_") else None


def urgent_or_escalated_cases(session: Session, line_id: int | None) -> list[Case]:
    """Open cases that are urgent (`Case.is_urgent`) or escalated, of one line or all."""
    condition = Case.status == CaseStatus.ESCALATED
    urgent = _is_urgent_column()
    if urgent is not None:
        condition = condition | urgent.is_(True)
    query = select(Case).where(condition, Case.status.not_in(CLOSED_CASE_STATUSES))
    if line_id is not None:
        query = query.where(Case.line_id == line_id)
    cases = list(session.scalars(query.order_by(Case.id)))
    if urgent is None and isinstance(getattr(Case, "is_urgent", None), property):
        # A computed property: filter the open cases in Python.
        extra = session.scalars(
            select(Case).where(
                Case.status.not_in(CLOSED_CASE_STATUSES),
                *([Case.line_id == line_id] if line_id is not None else []),
            )
        )
        seen = {c.id for c in cases}
        cases += [c for c in extra if c.id not in seen and c.is_urgent]
    return cases


def case_is_escalated(case: Case) -> bool:
    return case.status == CaseStatus.ESCALATED


def escalated_count(session: Session, line_id: int, start: datetime, end: datetime) -> int:
    """Cases escalated in [start, end): by `Case.escalated_at` when the cases feature records
    it, else the cases of the line that are escalated now and changed in the window."""
    escalated_at = getattr(Case, "escalated_at", None)
    query = select(func.count()).select_from(Case).where(Case.line_id == line_id)
    if escalated_at is not None and hasattr(escalated_at, "is_not"):
        query = query.where(escalated_at >= start, escalated_at < end)
    else:
        query = query.where(
            Case.status == CaseStatus.ESCALATED, Case.updated_at >= start, Case.updated_at < end
        )
    return session.scalar(query) or 0


def overdue_escalations(
    session: Session, now: datetime, line_id: int | None
) -> list[tuple[Case, float | None]]:
    """(case, seconds overdue) for each escalation past its deadline, of one line or all.

    Uses `hotline.cases.service.overdue_escalations(session, now)`; it may return cases, or
    escalation rows with a `case` (or `case_id`) and a deadline (`due_at` / `deadline_at`).
    Without it there are no deadlines, hence nothing overdue.
    """
    fn = _optional("hotline.cases.service", "overdue_escalations")
    if fn is None:
        return []
    found: list[tuple[Case, float | None]] = []
    for item in fn(session, now):
        case = item if isinstance(item, Case) else getattr(item, "case", None)
        if case is None and getattr(item, "case_id", None) is not None:
            case = session.get(Case, item.case_id)
        if case is None or (line_id is not None and case.line_id != line_id):
            continue
        deadline = None
        for name in ("escalation_deadline_at", "due_at", "deadline_at"):
            deadline = getattr(item, name, None) or getattr(case, name, None)
            if isinstance(deadline, datetime):
                break
            deadline = None
        found.append((case, (now - deadline).total_seconds() if deadline else None))
    return found


# --------------------------------------------------------------------------- callbacks


def callbacks_with_failed_attempts(session: Session, line_id: int, since: datetime) -> int | None:
    """Callbacks still pending whose latest attempt since `since` did not reach a person, from
    the callbacks feature's `CallbackAttempt` rows (None when that model does not exist)."""
    attempt = _optional("hotline.callbacks.models", "CallbackAttempt")
    if attempt is None or not hasattr(attempt, "outcome"):
        return None
    from hotline.callbacks.models import CallbackRequest, CallbackStatus

    return session.scalar(
        select(func.count(func.distinct(attempt.callback_id)))
        .select_from(attempt)
        .join(CallbackRequest, CallbackRequest.id == attempt.callback_id)
        .where(
            CallbackRequest.line_id == line_id,
            CallbackRequest.status == CallbackStatus.PENDING,
            attempt.outcome.is_not(None),
            attempt.outcome != "person",
            attempt.ended_at >= since,
        )
    )


# --------------------------------------------------------------------------- staff


def registered_supervisors(session: Session) -> list[Operator]:
    """Active supervisors and admins with a phone number: who gets summaries and alerts, and
    whose texts may use the supervisor commands."""
    return list(
        session.scalars(
            select(Operator)
            .where(
                Operator.is_active,
                Operator.role.in_((Role.SUPERVISOR, Role.ADMIN)),
                Operator.phone_number.is_not(None),
                Operator.phone_number != "",
            )
            .order_by(Operator.id)
        )
    )


def supervisor_by_number(session: Session, number: str) -> Operator | None:
    return next((op for op in registered_supervisors(session) if op.phone_number == number), None)


# --------------------------------------------------------------------------- clock


def clock_last_heartbeat(session: Session) -> datetime | None:
    """When a clock process was last seen alive (None: never).

    The newest of two signs of life: the clock's own heartbeat (`hotline.clock.last_heartbeat`,
    stored by the heartbeat job) and this feature's outbox sweep (`SmsSweep`, every few seconds).
    Either one running means the clock process is running.
    """
    from hotline.sms.models import SmsSweep

    seen = [session.scalar(select(func.max(SmsSweep.swept_at)))]
    fn = _optional("hotline.clock", "last_heartbeat")
    if fn is not None:
        beat = fn(session)
        seen.append(getattr(beat, "last_seen_at", beat))
    seen = [as_utc(s) for s in seen if isinstance(s, datetime)]
    return max(seen) if seen else None
