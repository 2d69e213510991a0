"""Follow-ups (回访) and callbacks scheduled from a case.

Scheduling goes through `hotline.callbacks.service.request_callback` (its merge rule).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callbacks.service import request_callback
from hotline.callers.models import Caller
from hotline.cases.lifecycle import CASE_FIELDS, audit_case, refuse_if_closed, touch
from hotline.cases.models import (
    Case,
    CaseCallback,
    CaseStatus,
)
from hotline.errors import ActionRefused, InvalidInput
from hotline.lines.models import Line
from hotline.timeutil import console_timezone, utcnow

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- callbacks


def _callback_target(session: Session, case: Case) -> tuple[Caller, int]:
    caller = session.get(Caller, case.caller_id) if case.caller_id else None
    if (
        caller is None
        or caller.anonymised_at is not None
        or not caller.phone_number.startswith("+")
    ):
        raise ActionRefused("这个工单没有可以回拨的号码。", "This case has no number to call back.")
    line_id = case.line_id or session.scalar(
        select(Line.id).where(Line.is_active).order_by(Line.id).limit(1)
    )
    if line_id is None:
        raise ActionRefused("没有可用的热线号码。", "No line is configured to call from.")
    return caller, line_id


def schedule_callback(
    session: Session,
    case: Case,
    *,
    due_at: datetime,
    operator_id: int | None,
    note: str = "",
    reason: CallbackReason = CallbackReason.OPERATOR,
) -> CallbackRequest:
    """ "Call back at ...": a callback request for the case's caller at `due_at`.

    Goes through `request_callback` (which moves the time into the line's calling window,
    merges with a callback already owed to the same number, and commits); then links it to the
    case and audits (flushed, the caller commits).
    """
    refuse_if_closed(case)
    now = utcnow()
    if due_at < now - timedelta(minutes=1):
        raise InvalidInput("回电时间不能是过去的时间。", "The callback time cannot be in the past.")
    caller, line_id = _callback_target(session, case)
    callback = request_callback(
        session,
        line_id=line_id,
        phone_number=caller.phone_number,
        reason=reason,
        original_arrival_at=now,
        due_at=due_at,
        caller_id=caller.id,
        case_id=case.id,
        requested_by_operator_id=operator_id,
        language=caller.language,
        note=f"{case.number}" + (f" {note.strip()}" if note and note.strip() else ""),
    )
    purpose = "follow_up" if reason == CallbackReason.FOLLOW_UP else "operator"
    link = session.scalar(
        select(CaseCallback).where(
            CaseCallback.case_id == case.id, CaseCallback.callback_id == callback.id
        )
    )
    if link is None:
        session.add(CaseCallback(case_id=case.id, callback_id=callback.id, purpose=purpose))
    touch(case)
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="callback_scheduled",
        operator_id=operator_id,
        actor=None if operator_id else "system:follow_up",
        after={"callback_id": callback.id, "due_at": due_at, "purpose": purpose},
    )
    return callback


def set_follow_up(
    session: Session, case: Case, *, follow_up_at: datetime | None, operator_id: int | None
) -> Case:
    """回访: set (or clear) the follow-up date. On that local date the clock creates the
    follow-up callback (see `request_due_follow_ups`), so a follow-up weeks away never merges
    into, and disappears with, a callback owed today. Flushes."""
    refuse_if_closed(case)
    if follow_up_at is not None and follow_up_at <= utcnow():
        raise InvalidInput("回访时间必须在将来。", "The follow-up must be in the future.")
    before = audit.snapshot(case, CASE_FIELDS)
    case.follow_up_at = follow_up_at
    case.follow_up_requested_at = None
    touch(case)
    audit_case(session, case, "follow_up_set", before, operator_id=operator_id)
    session.flush()
    return case


def request_due_follow_ups(session: Session, now: datetime, *, limit: int = 200) -> int:
    """Create the follow-up callbacks whose local date has come (clock job). Commits per case.

    Each case is claimed with a conditional UPDATE before its callback is requested, in the
    same transaction, so two clock processes never create the same follow-up twice.
    """
    tz = console_timezone()
    end_of_today = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz)
    candidates = session.scalars(
        select(Case.id)
        .where(
            Case.follow_up_at.is_not(None),
            Case.follow_up_at < end_of_today,
            Case.follow_up_requested_at.is_(None),
            Case.status != CaseStatus.CLOSED,
        )
        .order_by(Case.follow_up_at)
        .limit(limit)
    ).all()
    done = 0
    for case_id in candidates:
        claimed = session.execute(
            update(Case)
            .where(Case.id == case_id, Case.follow_up_requested_at.is_(None))
            .values(follow_up_requested_at=now),
            execution_options={"synchronize_session": False},
        ).rowcount
        if claimed != 1:
            session.rollback()
            continue
        case = session.get(Case, case_id)
        session.refresh(case)
        try:
            schedule_callback(
                session,
                case,
                due_at=max(case.follow_up_at, now),
                operator_id=None,
                note="回访 follow-up",
                reason=CallbackReason.FOLLOW_UP,
            )
            # A claim per case (the exception to "the job commits once"): the conditional
            # UPDATE above and its callback are durable together, so a second clock skips the
            # case; request_callback also commits today (the callbacks' rule until the
            # architecture branches merge).
            session.commit()
            done += 1
        except ActionRefused as exc:
            session.rollback()
            log.warning("follow-up of case %s not scheduled: %s", case_id, exc.en)
            # Keep the claim so the sweep does not retry a case that cannot be called back.
            session.execute(
                update(Case).where(Case.id == case_id).values(follow_up_requested_at=now)
            )
            session.commit()
    return done


def case_for_callback(session: Session, callback_id: int) -> Case | None:
    """The case a callback was scheduled from (None: not scheduled from a case)."""
    return session.scalar(
        select(Case)
        .join(CaseCallback, CaseCallback.case_id == Case.id)
        .where(CaseCallback.callback_id == callback_id)
        .order_by(CaseCallback.id.desc())
        .limit(1)
    )
