"""Callback domain operations: requesting (with the merge rule), operators' changes, and what
happens when a callback call is answered or ends. These functions are the only ones that commit.

State of one request:

    pending --claim--> dialing --person answers--> connected --call ends--> done
       ^                  |
       +--miss, retry-----+--miss, last attempt--> failed (caller, supervisors, family told)
    pending --operator--> canceled;  pending --the caller reached a person themselves--> done
    (requested) --number policy--> refused;  dialing --number policy at dispatch--> refused

A number the number policy (`hotline.numberpolicy`: allowed country codes, no premium-rate,
satellite or other costly ranges) refuses is never dialled: the request is still written, as
`refused` with the reason, so supervisors see it on the callbacks page and in the audit trail
instead of the promise vanishing silently.

Every transition out of `dialing`/`connected` happens in `finish_attempt`, guarded by a
conditional update of the attempt row, so a status callback that arrives twice (or a second
terminal event, or a reconcile run racing a late webhook) changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.events import CallbackAttemptEnded, CallbackGaveUp
from hotline.callbacks.models import (
    ACTIVE_STATUSES,
    AttemptOutcome,
    CallbackAttempt,
    CallbackReason,
    CallbackRequest,
    CallbackStatus,
)
from hotline.callbacks.policy import next_attempt_at
from hotline.callers.models import Caller
from hotline.calls.events import CallEnded
from hotline.calls.models import Call, CallDirection, CallStatus
from hotline.db import upsert_insert
from hotline.events import publish
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line
from hotline.numberpolicy import NumberPolicy
from hotline.phone import mask
from hotline.telephony.params import StatusParams, VoiceParams
from hotline.telephony.speech import rate_for
from hotline.telephony.webhooks import BadWebhook
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

#: AnsweredBy values (answering-machine detection) that mean a person may be on the line.
#: "unknown" counts as a person: an older caller who says nothing for a moment is often
#: "unknown", and hanging up on them would be far worse than a message to a machine.
PERSON_ANSWERS = frozenset({"human", "unknown"})
FAX_ANSWERS = frozenset({"fax"})
#: Reasons that are a "please call me back" promise: they are kept by any conversation with a
#: person, including the caller ringing us again. Follow-ups and check-ins are kept open.
PROMISE_REASONS = frozenset(
    {
        CallbackReason.VIRTUAL_HOLD,
        CallbackReason.ABANDONED,
        CallbackReason.VOICEMAIL,
        CallbackReason.SMS,
    }
)
#: Reasons whose calls keep to their own schedule, not the line's calling window and working
#: days: a check-in is placed in the window and on the days the elder chose at enrolment
#: (hotline.checkins.schedule), weekends and holidays included when they asked for them. They
#: need no operator to answer (the elder answers a recorded question), so the ringing cap, which
#: keeps callbacks to the operators available, does not hold them back either.
OWN_SCHEDULE_REASONS = frozenset({CallbackReason.CHECK_IN})
_TERMINAL_OUTCOMES = {
    CallStatus.BUSY: AttemptOutcome.BUSY,
    CallStatus.NO_ANSWER: AttemptOutcome.NO_ANSWER,
    CallStatus.FAILED: AttemptOutcome.FAILED,
    CallStatus.CANCELED: AttemptOutcome.CANCELED,
}


# --------------------------------------------------------------------------- requests


def request_callback(
    session: Session,
    *,
    line_id: int,
    phone_number: str,
    reason: CallbackReason,
    original_arrival_at: datetime,
    due_at: datetime | None = None,
    caller_id: int | None = None,
    case_id: int | None = None,
    origin_call_id: int | None = None,
    requested_by_operator_id: int | None = None,
    language: str | None = None,
    note: str = "",
) -> CallbackRequest:
    """Record that `phone_number` is owed a callback on `line_id`, merging into an active one.

    The due time is moved into the line's calling window on a working day. Merging keeps the
    earliest original arrival (the caller's place), the earliest due time (the sooner promise)
    and notes both reasons, so the same person is never dialled twice; on a closed line a
    check-in and a person's request are kept apart instead, the person's one held (see
    `merge_target`), and the dispatcher places them one after the other. Flushes, never commits;
    safe against a concurrent request for the same person (the partial unique index decides,
    and the loser merges inside a savepoint).

    A number the number policy refuses (foreign, premium-rate, satellite ...) is recorded as
    `refused` with the reason, never `pending`: nothing will dial it (see `record_refusal`).
    """
    line = session.get(Line, line_id)
    if line is None:
        raise ValueError(f"no line {line_id}")
    fields = {
        "line_id": line_id,
        "phone_number": phone_number,
        "reason": reason,
        "original_arrival_at": original_arrival_at,
        "caller_id": caller_id,
        "case_id": case_id,
        "origin_call_id": origin_call_id,
        "requested_by_operator_id": requested_by_operator_id,
        "language": language,
        "note": note,
    }
    refusal = callback_refusal(session, phone_number)
    if refusal is not None:
        return record_refusal(session, CallbackRequest(**fields), refusal)
    calendar = LineCalendar.load(session, line)
    now = utcnow()
    if reason in OWN_SCHEDULE_REASONS:
        due = due_at or now
    else:
        due = calendar.next_calling_time(due_at or now)
    is_line_closed = not calendar.in_calling_window(now)
    merge = {
        "reason": reason,
        "note": note,
        "original_arrival_at": original_arrival_at,
        "due_at": due,
        "caller_id": caller_id,
        "case_id": case_id,
        "language": language,
        "requested_by_operator_id": requested_by_operator_id,
        "max_attempts": max(1, line.callback_max_attempts),
    }
    for _attempt in range(3):
        active = session.scalars(
            select(CallbackRequest)
            .where(
                CallbackRequest.line_id == line_id,
                CallbackRequest.phone_number == phone_number,
                CallbackRequest.status.in_(ACTIVE_STATUSES),
            )
            .order_by(CallbackRequest.id)
        ).all()
        shared = next((r for r in active if r.held_reason is None), None)
        held = next((r for r in active if r.held_reason is not None), None)
        new_held_reason = None
        target = merge_target(shared, held, reason, is_line_closed=is_line_closed)
        if target == "hold_shared":
            # The check-in goes out now in the elder's window; the person's pending callback
            # steps aside (held) until the line opens, and the check-in gets its own row.
            assert shared is not None
            if not _hold(session, shared.id, held_reason_text(calendar, line, now)):
                continue  # it was claimed or ended meanwhile: look again
        elif target == "new_held":
            new_held_reason = held_reason_text(calendar, line, now)
        elif target is not None:
            existing = shared if target == "shared" else held
            assert existing is not None
            if _merge_into(session, existing.id, **merge):
                session.refresh(existing)
                log.info("callback merged for %s (request %s)", mask(phone_number), existing.id)
                return existing
            continue  # it stopped being active meanwhile: look again (the UPDATE changed nothing)
        row = CallbackRequest(
            **fields,
            status=CallbackStatus.PENDING,
            due_at=due,
            # A check-in's retries follow the elder's enrolment (hotline.checkins.cascade),
            # which asks for each call anew: one attempt per request.
            max_attempts=1
            if reason in OWN_SCHEDULE_REASONS
            else max(1, line.callback_max_attempts),
            held_reason=new_held_reason,
        )
        try:
            # A concurrent request for the same person may win the partial unique index: the
            # savepoint takes back only this INSERT, never the caller's transaction, and the
            # next round merges into the winner's row.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        log.info("callback requested for %s (%s)", mask(phone_number), reason.value)
        return row
    raise RuntimeError("could not record the callback request after 3 tries")


def merge_target(
    shared: CallbackRequest | None,
    held: CallbackRequest | None,
    reason: CallbackReason,
    *,
    is_line_closed: bool,
) -> str | None:
    """Where a new request for a person goes (a pure rule; one call per person):

    - no active callback: a new row (None);
    - the line is open: merge into the shared row (or, with none, the held one);
    - the line is closed (its calling window: no operator to talk to), a check-in meeting a
      person's pending callback: the check-in still goes out in the elder's own window, so
      the person's row is held ("hold_shared") and the check-in gets its own row (None);
      a check-in meeting only a held row: its own row too (None);
    - the line is closed, a person's request meeting a check-in: it joins the held row, or
      becomes one ("new_held"), to be placed when the line opens.
    A person's callback already ringing (dialing) is never held: the check-in joins that call.
    """
    is_check_in = reason in OWN_SCHEDULE_REASONS
    if not is_line_closed:
        if shared is not None:
            return "shared"
        return "held" if held is not None else None
    if is_check_in:
        if shared is None:
            return None
        if shared.reason in OWN_SCHEDULE_REASONS or shared.status != CallbackStatus.PENDING:
            return "shared"
        return "hold_shared" if held is None else "shared"
    if shared is not None and shared.reason in OWN_SCHEDULE_REASONS:
        return "held" if held is not None else "new_held"
    if shared is not None:
        return "shared"
    return "held" if held is not None else None


def held_reason_text(calendar: LineCalendar, line: Line, now: datetime) -> str:
    """Why a person's callback is held (shown on the callbacks page), with when it may go."""
    opening = calendar.next_calling_time(now)
    local = opening.astimezone(ZoneInfo(line.timezone))
    return (
        "line closed: the elder's check-in call goes first in their own window; "
        f"this callback from {local:%Y-%m-%d %H:%M}, once no other call to them is under way"
    )


def _hold(session: Session, callback_id: int, why: str) -> bool:
    """Hold a pending person's callback (one conditional UPDATE; False when it is no longer
    pending and not held, e.g. a dispatcher claimed it)."""
    try:
        with session.begin_nested():
            result = session.execute(
                update(CallbackRequest)
                .where(
                    CallbackRequest.id == callback_id,
                    CallbackRequest.status == CallbackStatus.PENDING,
                    CallbackRequest.held_reason.is_(None),
                )
                .values(held_reason=why[:200], updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:  # a held row appeared for the person meanwhile
        return False
    return result.rowcount == 1


def callback_refusal(session: Session, phone_number: str) -> str | None:
    """Why `phone_number` may not be called back, or None: the number policy, and never one of
    the hotline's own line numbers (a message left through the fallback of a callback call
    comes "from" the line; calling it back would only ring the hotline itself)."""
    refusal = NumberPolicy.from_config(current_app.config).refusal(phone_number)
    if refusal is None and session.scalar(
        select(Line.id).where(Line.phone_number == phone_number).limit(1)
    ):
        refusal = "the hotline's own line number"
    return refusal


#: A refused number asking again within this long adds to its refused row instead of a new one,
#: so a stranger ringing from abroad all day cannot flood the supervisors' list.
REFUSAL_FOLD_WINDOW = timedelta(hours=24)


def record_refusal(session: Session, row: CallbackRequest, refusal: str) -> CallbackRequest:
    """Write down a callback the number policy will not place: `row` (new, not yet added)
    becomes status refused, with the reason.

    Audited and logged; shown to supervisors on the callbacks page. A repeat request for the
    same number and reason within a day adds to the earlier refused row instead. Flushes.
    """
    now = utcnow()
    refusal = refusal[:200]
    earlier = session.scalars(
        select(CallbackRequest)
        .where(
            CallbackRequest.line_id == row.line_id,
            CallbackRequest.phone_number == row.phone_number,
            CallbackRequest.status == CallbackStatus.REFUSED,
            CallbackRequest.refusal_reason == refusal,
            CallbackRequest.created_at >= now - REFUSAL_FOLD_WINDOW,
        )
        .order_by(CallbackRequest.id.desc())
        .limit(1)
    ).first()
    if earlier is not None:
        also = f"{row.reason.value}" + (f": {row.note}" if row.note else "")
        earlier.note = ((earlier.note + "; also " if earlier.note else "") + also)[-2000:]
        earlier.updated_at = now
        session.flush()
        log.warning("callback for %s refused again: %s", mask(row.phone_number), refusal)
        return earlier
    row.status = CallbackStatus.REFUSED
    row.refusal_reason = refusal
    row.last_outcome = "refused"
    row.due_at = now
    row.max_attempts = 0
    row.completed_at = now
    session.add(row)
    session.flush()
    _audit_refusal(session, row, refusal, at="request")
    log.warning(
        "callback for %s (%s) refused by the number policy: %s",
        mask(row.phone_number),
        row.reason.value,
        refusal,
    )
    return row


def refuse_at_dispatch(
    session: Session, callback: CallbackRequest, attempt: CallbackAttempt, refusal: str
) -> None:
    """The number policy refused a claimed callback just before dialling (the policy changed
    since it was requested): the attempt ends unplaced and the request becomes refused. Flushes.
    """
    now = utcnow()
    session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.id == attempt.id, CallbackAttempt.ended_at.is_(None))
        .values(outcome=AttemptOutcome.REJECTED, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == callback.id, CallbackRequest.status == CallbackStatus.DIALING)
        .values(
            status=CallbackStatus.REFUSED,
            refusal_reason=refusal[:200],
            last_outcome="refused",
            lease_expires_at=None,
            leased_by=None,
            completed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(callback)
    _audit_refusal(session, callback, refusal, at="dispatch")
    log.warning(
        "callback %s to %s refused at dispatch: %s",
        callback.id,
        mask(callback.phone_number),
        refusal,
    )


def _audit_refusal(session: Session, row: CallbackRequest, refusal: str, *, at: str) -> None:
    """One audit entry per refusal (the number masked, as everywhere in the trail)."""
    audit.record(
        session,
        entity="callback",
        entity_id=row.id,
        action="refused",
        operator_id=None,
        actor="number_policy",
        after={
            "phone_number": audit.redact("phone_number", row.phone_number),
            "refusal_reason": refusal[:200],
            "at": at,
        },
    )


def _merge_into(
    session: Session,
    callback_id: int,
    *,
    reason: CallbackReason,
    note: str,
    original_arrival_at: datetime,
    due_at: datetime,
    caller_id: int | None,
    case_id: int | None,
    language: str | None,
    requested_by_operator_id: int | None,
    max_attempts: int,
) -> bool:
    """Fold a new request into active callback `callback_id` in one UPDATE statement.

    Computed by the database, not read-modify-written here, so requests that merge at the same
    moment (an abandoned call and its voicemail, say) cannot lose each other's earlier arrival
    or note. False when the row is no longer active.

    The row keeps its reason, except that a request for a person (any reason but a check-in)
    takes over a check-in row: the callee wanted a person, so the answered call goes to the
    queue instead of asking the check-in question (the check-in is still confirmed when a
    person answers, hotline.checkins.cascade), with the line's attempts and calling window. A
    check-in merging into a person's callback leaves it as it is.
    """
    table = CallbackRequest
    merged = f"{reason.value}" + (f": {note}" if note else "")
    takeover: dict = {}
    if reason not in OWN_SCHEDULE_REASONS:
        is_check_in = table.reason.in_(OWN_SCHEDULE_REASONS)
        takeover = {
            "reason": case((is_check_in, reason), else_=table.reason),
            "max_attempts": case(
                (and_(is_check_in, table.max_attempts < max_attempts), max_attempts),
                else_=table.max_attempts,
            ),
        }

    def value(column, raw):
        return bindparam(None, raw, type_=column.type)

    arrival = value(table.original_arrival_at, original_arrival_at)
    due = value(table.due_at, due_at)
    result = session.execute(
        update(table)
        .where(table.id == callback_id, table.status.in_(ACTIVE_STATUSES))
        .values(
            original_arrival_at=case(
                (table.original_arrival_at > arrival, arrival), else_=table.original_arrival_at
            ),
            due_at=case(
                (and_(table.status == CallbackStatus.PENDING, table.due_at > due), due),
                else_=table.due_at,
            ),
            caller_id=func.coalesce(table.caller_id, caller_id),
            case_id=func.coalesce(table.case_id, case_id),
            language=func.coalesce(table.language, language),
            requested_by_operator_id=func.coalesce(
                table.requested_by_operator_id, requested_by_operator_id
            ),
            note=case((table.note == "", merged), else_=table.note + "; also " + merged),
            updated_at=utcnow(),
            **takeover,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# --------------------------------------------------------------------------- operators


class NotPending(LookupError):
    """The callback is no longer pending (being dialled, or already finished)."""


def _change_pending(session: Session, callback_id: int, **values) -> CallbackRequest:
    """Apply `values` to a pending callback, atomically; raises NotPending otherwise.

    Conditional on status = pending, so an operator's change can never race a dispatcher that
    is claiming the same row: exactly one of them wins.
    """
    result = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == callback_id, CallbackRequest.status == CallbackStatus.PENDING)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise NotPending(callback_id)  # the UPDATE changed nothing: nothing to take back
    row = session.get(CallbackRequest, callback_id, populate_existing=True)
    assert row is not None
    return row


def cancel_callback(
    session: Session, callback_id: int, *, reason: str, operator_id: int | None
) -> CallbackRequest:
    """Cancel a pending callback with a reason (commits); raises NotPending otherwise."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required to cancel a callback")
    row = _change_pending(
        session,
        callback_id,
        status=CallbackStatus.CANCELED,
        cancel_reason=reason[:200],
        canceled_by_operator_id=operator_id,
        last_outcome="canceled",
        completed_at=utcnow(),
    )
    log.info("callback %s canceled by operator %s", callback_id, operator_id)
    return row


def reschedule_callback(
    session: Session, callback_id: int, *, due_at: datetime, operator_id: int | None
) -> CallbackRequest:
    """Move a pending callback to `due_at` (into the calling window); commits."""
    row = session.get(CallbackRequest, callback_id)
    if row is None:
        raise NotPending(callback_id)
    line = session.get(Line, row.line_id)
    assert line is not None
    due = LineCalendar.load(session, line).next_calling_time(max(due_at, utcnow()))
    row = _change_pending(session, callback_id, due_at=due)
    log.info("callback %s rescheduled by operator %s", callback_id, operator_id)
    return row


def call_now(session: Session, callback_id: int, *, operator_id: int | None) -> CallbackRequest:
    """Make a pending callback due now; the clock places it within seconds (if in the window).

    The call itself is placed by the clock, never by the web process: the pacing, the ringing
    cap and the exactly-once claim then apply to it like to every other callback.
    """
    return reschedule_callback(session, callback_id, due_at=utcnow(), operator_id=operator_id)


# --------------------------------------------------------------------------- calls answered


@dataclass(frozen=True)
class AnswerResult:
    """What the answer webhook should play, and for a person who to put in the queue."""

    #: "person" (greeting, then the queue), "machine" (a brief message) or "fax" (hang up).
    kind: str
    line: Line
    language: str
    rate_percent: int | None
    call: Call | None = None
    caller: Caller | None = None
    callback: CallbackRequest | None = None


def classify_answer(answered_by: str | None) -> str:
    """person / machine / fax from Twilio's AnsweredBy (absent: no detection ran, a person)."""
    value = (answered_by or "").strip().lower()
    if not value or value in PERSON_ANSWERS:
        return "person"
    if value in FAX_ANSWERS:
        return "fax"
    return "machine"  # machine_start, machine_end_beep, machine_end_silence, machine_end_other


def _callback_language(callback: CallbackRequest, caller: Caller | None, line: Line) -> str:
    return callback.language or (caller.language if caller else None) or line.default_language


def _rate_for(caller: Caller | None) -> int | None:
    """The caller's own speaking rate, or the slower one for hard-of-hearing callers."""
    if caller is None:
        return None
    return rate_for(
        speech_rate_percent=caller.speech_rate_percent,
        is_hard_of_hearing=caller.is_hard_of_hearing,
        default=None,
    )


def _load(session: Session, attempt_id: int) -> tuple[CallbackAttempt, CallbackRequest, Line]:
    attempt = session.get(CallbackAttempt, attempt_id)
    if attempt is None:
        raise BadWebhook(f"unknown callback attempt {attempt_id}")
    callback = session.get(CallbackRequest, attempt.callback_id)
    assert callback is not None
    line = session.get(Line, callback.line_id)
    assert line is not None
    return attempt, callback, line


def adopt_call_sid(
    session: Session, attempt: CallbackAttempt, callback: CallbackRequest, call_sid: str
) -> bool:
    """Tie `call_sid` to the attempt if it has none yet; False when it belongs to another call.

    Twilio's first status callback can arrive before the dispatcher has written the CallSid it
    got back, and if the dispatcher died in between, this is how the call is not forgotten.
    """
    if attempt.call_sid == call_sid:
        return True
    if attempt.call_sid is not None:
        log.warning("attempt %s got a webhook for another call %s", attempt.id, call_sid)
        return False
    result = session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.id == attempt.id, CallbackAttempt.call_sid.is_(None))
        .values(call_sid=call_sid, placed_at=attempt.placed_at or utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(attempt)
    if result.rowcount == 1 and callback.attempts == attempt.number:
        session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback.id,
                CallbackRequest.attempts == attempt.number,
                CallbackRequest.status == CallbackStatus.DIALING,
            )
            .values(attempt_call_sid=call_sid, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        session.refresh(callback)
    return attempt.call_sid == call_sid


def insert_call_if_missing(
    session: Session, callback: CallbackRequest, line: Line, call_sid: str
) -> None:
    """Write the Call row of a callback call unless a concurrent webhook already did.

    One INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite both have it), so the
    dispatcher and Twilio's first status callback can race to it harmlessly.
    """
    insert = upsert_insert(session)
    caller = session.get(Caller, callback.caller_id) if callback.caller_id else None
    session.execute(
        insert(Call)
        .values(
            call_sid=call_sid,
            line_id=line.id,
            caller_id=callback.caller_id,
            direction=CallDirection.OUTBOUND,
            status=CallStatus.QUEUED,
            status_sequence=-1,
            from_number=line.phone_number,
            to_number=callback.phone_number,
            language=_callback_language(callback, caller, line),
            menu_path=[],
            node_failures=0,
            step_count=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["call_sid"])
    )


def ensure_call_row(session: Session, callback: CallbackRequest, line: Line, call_sid: str) -> Call:
    """The Call row of a callback call (outbound, on the callback's line, for its caller)."""
    call = session.scalar(select(Call).where(Call.call_sid == call_sid))
    if call is None:
        insert_call_if_missing(session, callback, line, call_sid)
        call = session.scalar(select(Call).where(Call.call_sid == call_sid))
        assert call is not None
    return call


def answer_attempt(
    session: Session, attempt_id: int, params: VoiceParams, *, answered_by: str | None
) -> AnswerResult:
    """A callback call was picked up: by a person (the request is now connected), a machine or
    a fax. Flushes; the voice orchestration (`hotline.voice.flow.answer_callback`) puts a person
    into the operator queue."""
    attempt, callback, line = _load(session, attempt_id)
    if not adopt_call_sid(session, attempt, callback, params.call_sid):
        raise BadWebhook("this call does not belong to the callback attempt")
    call = ensure_call_row(session, callback, line, params.call_sid)
    caller = session.get(Caller, callback.caller_id) if callback.caller_id else None
    language = _callback_language(callback, caller, line)
    kind = classify_answer(answered_by)
    attempt.answered_by = (answered_by or "none")[:32]
    if kind == "person":
        session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback.id,
                CallbackRequest.attempts == attempt.number,
                CallbackRequest.status == CallbackStatus.DIALING,
            )
            .values(status=CallbackStatus.CONNECTED, last_outcome=AttemptOutcome.PERSON.value)
            .execution_options(synchronize_session=False)
        )
        call.language = language
    session.flush()
    log.info("callback attempt %s answered by %s", attempt.id, attempt.answered_by)
    return AnswerResult(
        kind=kind,
        line=line,
        language=language,
        rate_percent=_rate_for(caller),
        call=call,
        caller=caller,
        callback=callback,
    )


# --------------------------------------------------------------------------- call status


def outcome_for(
    status: CallStatus, attempt: CallbackAttempt, callback: CallbackRequest
) -> AttemptOutcome:
    """How an attempt ended, from its final call status and what answered.

    A completed call is a success only when our answer webhook put a person in the queue
    (the request is `connected`): answered-by-human alone is not enough, because if our answer
    webhook failed the caller heard the fallback, not a person.
    """
    if status in _TERMINAL_OUTCOMES:
        return _TERMINAL_OUTCOMES[status]
    is_current = callback.attempts == attempt.number
    if is_current and callback.status == CallbackStatus.CONNECTED:
        return AttemptOutcome.PERSON
    kind = (
        classify_answer(attempt.answered_by) if attempt.answered_by not in (None, "none") else None
    )
    if kind == "machine":
        return AttemptOutcome.MACHINE
    if kind == "fax":
        return AttemptOutcome.FAX
    return AttemptOutcome.NOT_CONFIRMED


def record_call_status(
    session: Session, attempt_id: int, params: StatusParams, *, answered_by: str | None
) -> None:
    """A status callback for a callback call: update the Call, then the attempt and request.

    Idempotent and order-independent: a lower status never replaces a higher one, and the
    attempt is finished by the first terminal event only.
    """
    from hotline.calls.service import apply_status

    try:
        status = CallStatus(params.call_status)
    except ValueError as exc:
        raise BadWebhook(f"unknown CallStatus {params.call_status!r}") from exc
    attempt = session.get(CallbackAttempt, attempt_id)
    if attempt is None:
        log.warning("status callback for unknown callback attempt %s ignored", attempt_id)
        return
    callback = session.get(CallbackRequest, attempt.callback_id)
    line = session.get(Line, callback.line_id) if callback else None
    assert callback is not None and line is not None
    if not adopt_call_sid(session, attempt, callback, params.call_sid):
        return
    ensure_call_row(session, callback, line, params.call_sid)
    apply_status(session, params)  # the Call row, for reports and other features

    attempt = session.get(CallbackAttempt, attempt_id, populate_existing=True)
    assert attempt is not None
    if answered_by and attempt.answered_by in (None, "none"):
        attempt.answered_by = answered_by[:32]
    if attempt.ended_at is None:
        seen = CallStatus(attempt.call_status) if attempt.call_status else None
        if seen is None or status.rank > seen.rank:
            attempt.call_status = status.value
    if status.is_terminal:
        callback = session.get(CallbackRequest, attempt.callback_id, populate_existing=True)
        assert callback is not None
        finish_attempt(
            session,
            attempt,
            outcome_for(status, attempt, callback),
            duration_seconds=params.duration_seconds,
        )
    session.flush()


def finish_attempt(
    session: Session,
    attempt: CallbackAttempt,
    outcome: AttemptOutcome,
    *,
    duration_seconds: int | None = None,
    error_code: int | None = None,
    ended_at: datetime | None = None,
) -> bool:
    """End an attempt once, then move its request on (done, retry, or failed). Flushes; the
    entry point (status webhook, dispatcher) commits.

    Returns False, changing nothing, when the attempt had already ended (a duplicate event).
    """
    now = ended_at or utcnow()
    result = session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.id == attempt.id, CallbackAttempt.ended_at.is_(None))
        .values(
            outcome=outcome,
            ended_at=now,
            duration_seconds=duration_seconds,
            error_code=error_code,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.refresh(attempt)
    callback = session.get(CallbackRequest, attempt.callback_id, populate_existing=True)
    assert callback is not None
    callback.last_outcome = outcome.value
    callback.last_attempt_at = attempt.placed_at or attempt.claimed_at
    is_current = callback.attempts == attempt.number and callback.status in (
        CallbackStatus.DIALING,
        CallbackStatus.CONNECTED,
    )
    if is_current:
        _move_on(session, callback, outcome, now)
    publish(session, CallbackAttemptEnded(callback.id, attempt.id))
    session.flush()
    log.info(
        "callback %s attempt %s ended: %s -> %s",
        callback.id,
        attempt.number,
        outcome.value,
        callback.status.value,
    )
    return True


def _move_on(
    session: Session, callback: CallbackRequest, outcome: AttemptOutcome, now: datetime
) -> None:
    """After the current attempt: done, another try inside the calling window, or failed."""
    callback.lease_expires_at = None
    callback.leased_by = None
    if outcome.is_success:
        callback.status = CallbackStatus.DONE
        callback.completed_at = now
        return
    # A number Twilio will not call is not tried again: retrying cannot help.
    if callback.attempts >= callback.max_attempts or outcome is AttemptOutcome.REJECTED:
        callback.status = CallbackStatus.FAILED
        callback.completed_at = now
        callback.attempt_call_sid = None
        publish(session, CallbackGaveUp(callback.id, outcome.value))
        return
    line = session.get(Line, callback.line_id)
    assert line is not None
    callback.status = CallbackStatus.PENDING
    callback.attempt_call_sid = None
    callback.due_at = next_attempt_at(
        LineCalendar.load(session, line), failed_attempts=callback.attempts, failed_at=now
    )


# --------------------------------------------------------------------------- the caller calls in


def caller_reached_a_person(session: Session, event: CallEnded) -> None:
    """CallEnded subscriber: an inbound caller who talked to an operator no longer needs a
    callback.

    Only "please call me back" promises are closed (not follow-ups or check-ins), and only
    while pending: a callback already ringing is left to finish. Does not commit.
    """
    call = session.get(Call, event.call_id)
    if call is None:
        return
    if call.direction != CallDirection.INBOUND or call.answered_at is None:
        return
    if call.line_id is None or not call.from_number:
        return
    session.execute(
        update(CallbackRequest)
        .where(
            CallbackRequest.line_id == call.line_id,
            CallbackRequest.phone_number == call.from_number,
            CallbackRequest.status == CallbackStatus.PENDING,
            CallbackRequest.reason.in_(PROMISE_REASONS),
        )
        .values(
            status=CallbackStatus.DONE,
            last_outcome="caller_called_in",
            completed_at=utcnow(),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- console


def pending_callbacks(session: Session, *, limit: int = 200) -> list[CallbackRequest]:
    """Open callbacks for the console: the ringing and connected first, then by due time."""
    rows = session.scalars(
        select(CallbackRequest)
        .where(
            CallbackRequest.status.in_(
                (CallbackStatus.PENDING, CallbackStatus.DIALING, CallbackStatus.CONNECTED)
            )
        )
        .order_by(CallbackRequest.due_at, CallbackRequest.original_arrival_at)
        .limit(limit)
    ).all()
    order = {CallbackStatus.DIALING: 0, CallbackStatus.CONNECTED: 1, CallbackStatus.PENDING: 2}
    return sorted(rows, key=lambda r: order[r.status])


def recently_refused(session: Session, *, limit: int = 50) -> list[CallbackRequest]:
    """Callbacks the number policy refused, newest first, for supervisors to look at."""
    return list(
        session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.status == CallbackStatus.REFUSED)
            .order_by(CallbackRequest.updated_at.desc(), CallbackRequest.id.desc())
            .limit(limit)
        ).all()
    )


def recently_failed(session: Session, *, limit: int = 50) -> list[CallbackRequest]:
    """Callbacks whose every attempt failed, newest first (someone should follow them up)."""
    return list(
        session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.status == CallbackStatus.FAILED)
            .order_by(CallbackRequest.completed_at.desc())
            .limit(limit)
        ).all()
    )
