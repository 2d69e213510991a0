"""The operator queue: who waits, in which order, what they hear, and how they leave.

Order: priority first (urgent, returning callbacks, older callers, everyone else), then the
original arrival time, then the entry id. Twilio holds the callers (<Enqueue> into the line's
Twilio queue) and is never asked for "the front": operators take the caller this order chooses,
by CallSid (see hotline.queue.connect).

Leaving without an operator:
- virtual hold: after `Line.offer_callback_after_seconds` the caller may press 1 (or say 回电);
  they <Leave>, a callback is owed with their original arrival time, and the call ends;
- wait cap: after `Line.max_wait_seconds` they <Leave> for a voicemail, and a callback is owed;
- abandonment: hanging up after `Line.abandon_callback_after_seconds` owes a callback; shorter
  hang-ups are counted (SHORT_ABANDON) and not called back.
"""

from __future__ import annotations

import enum
import logging
import math
import time
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    bindparam,
    case,
    event,
    func,
    inspect,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hotline.callbacks.models import CallbackReason
from hotline.callers.models import Caller
from hotline.calls.events import CallEnded
from hotline.calls.models import CALL_BY_SID, Call, CallDirection, CallOutcome
from hotline.events import publish
from hotline.lines import cache as lines_cache
from hotline.lines.models import Line
from hotline.operators import presence
from hotline.operators.models import Operator, Presence
from hotline.phone import try_normalise
from hotline.queue.events import CallbackOwed
from hotline.queue.models import LIVE_STATUSES, OperatorTalk, QueueEntry, QueueStatus, TalkEnd
from hotline.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

#: Recent answers estimate the wait: how far back to look, and how many answers make a rate.
ANSWER_RATE_WINDOW = timedelta(minutes=30)
MIN_ANSWERS_FOR_RATE = 3
#: Without enough recent answers: an older caller's conversation takes about this long.
DEFAULT_HANDLE_SECONDS = 300
#: Speech plus listening time of an announcement, so the next one starts on time for an event.
ANNOUNCEMENT_SECONDS = 20


class Priority(enum.IntEnum):
    """Lower is served first; within a priority, the original arrival time decides."""

    URGENT = 0
    CALLBACK = 1
    OLDER = 2
    NORMAL = 3


PRIORITY_REASONS = {
    Priority.URGENT: "emergency",
    Priority.CALLBACK: "callback",
    Priority.OLDER: "older_caller",
    Priority.NORMAL: "normal",
}


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


# --------------------------------------------------------------------------- entering


def enqueue(
    session: Session,
    call: Call,
    caller: Caller | None,
    *,
    reason: str,
    priority: Priority | None = None,
    arrived_at: datetime | None = None,
    preferred_operator_id: int | None = None,
) -> QueueEntry:
    """Put `call` in its line's queue (flushes, does not commit) and return its entry.

    `arrived_at` is the original arrival (a returning callback passes the first call's time, so
    it keeps its place); it defaults to now. A call already in the queue keeps its entry.
    """
    if call.line_id is None:
        raise ValueError(f"call {call.call_sid} has no line; cannot queue it")
    if call.id is None:
        session.flush()
    now = utcnow()
    if call.queued_at is None:
        call.queued_at = now
    if priority is None:
        priority, why = priority_for(call, caller)
    else:
        priority, why = Priority(priority), PRIORITY_REASONS[Priority(priority)]
    entry = session.scalar(select(QueueEntry).where(QueueEntry.call_id == call.id))
    if entry is not None:
        if entry.status not in LIVE_STATUSES:
            # The same call back in the queue (e.g. a second <Enqueue>): same place as before.
            entry.status = QueueStatus.WAITING
            entry.enqueued_at = now
            _clear_operator(entry)
        session.flush()
        return entry
    entry = QueueEntry(
        line_id=call.line_id,
        call_id=call.id,
        caller_id=caller.id if caller is not None else call.caller_id,
        status=QueueStatus.WAITING,
        priority=int(priority),
        priority_reason=why,
        reason=reason[:32],
        # An operator's correction on an earlier case (hotline.callers.service.correct_language)
        # comes before the menu choice: they heard the caller.
        language=(caller.routing_language if caller is not None else None)
        or call.language
        or "zh-CN",
        scenario=call.scenario,
        arrived_at=arrived_at or now,
        enqueued_at=now,
        preferred_operator_id=preferred_operator_id,
    )
    session.add(entry)
    session.flush()
    log.info(
        "queued call %s on line %s at priority %s (%s)",
        call.call_sid,
        call.line_id,
        priority.name,
        reason,
    )
    return entry


def _clear_operator(entry: QueueEntry) -> None:
    entry.operator_id = None
    entry.operator_call_sid = None
    entry.conference_name = None
    entry.conference_sid = None
    entry.is_on_hold = False
    entry.transfer_operator_id = None
    entry.transfer_call_sid = None
    entry.is_transfer_joined = False
    entry.claimed_at = None


# --------------------------------------------------------------------------- order


ORDER = (QueueEntry.priority, QueueEntry.arrived_at, QueueEntry.id)


def waiting_entries(
    session: Session,
    line_id: int | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
    line_ids: Collection[int] | None = None,
) -> list[QueueEntry]:
    """Everyone waiting (on one line, or all lines, or the lines in `line_ids` when given and
    not empty: an operator's lines), in the order they will be served; only `limit` of them
    (after `offset`) when given: the console and "take the next caller" need the head of the
    queue, not 10,000 rows."""
    query = select(QueueEntry).where(QueueEntry.status == QueueStatus.WAITING)
    if line_id is not None:
        query = query.where(QueueEntry.line_id == line_id)
    if line_ids:
        query = query.where(QueueEntry.line_id.in_(sorted(line_ids)))
    query = query.order_by(*ORDER)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(session.scalars(query))


def ahead_of(entry: QueueEntry):
    """SQL condition: entries served before `entry` (same line, waiting)."""
    # One row-value comparison (the ORDER, lexicographic) rather than the equivalent ORs: the
    # database then reads only the index range of those ahead, not every waiting entry.
    return and_(
        QueueEntry.line_id == entry.line_id,
        QueueEntry.status == QueueStatus.WAITING,
        tuple_(QueueEntry.priority, QueueEntry.arrived_at, QueueEntry.id)
        < tuple_(
            literal(entry.priority, QueueEntry.priority.type),
            literal(entry.arrived_at, QueueEntry.arrived_at.type),
            literal(entry.id, QueueEntry.id.type),
        ),
    )


def position_of(session: Session, entry: QueueEntry) -> int:
    """1 for the next caller to be served on the entry's line."""
    ahead = session.scalar(select(func.count()).select_from(QueueEntry).where(ahead_of(entry)))
    return (ahead or 0) + 1


def estimate_wait_seconds(
    position: int,
    *,
    answered_in_window: int,
    window_seconds: float,
    staffed_operators: int,
    default_handle_seconds: int = DEFAULT_HANDLE_SECONDS,
) -> int:
    """Seconds until the caller at `position` is answered, from the recent answer rate.

    With at least MIN_ANSWERS_FOR_RATE answers in the window, one answer comes every
    `window / answers` seconds. With fewer (a quiet line, the start of a shift) the rate is
    guessed from the operators on shift and a typical conversation length.
    """
    if position <= 0:
        return 0
    if answered_in_window >= MIN_ANSWERS_FOR_RATE:
        seconds_per_answer = window_seconds / answered_in_window
    else:
        seconds_per_answer = default_handle_seconds / max(1, staffed_operators)
    return math.ceil(position * seconds_per_answer)


def staffed_operator_count(session: Session) -> int:
    """Operators on shift: console open and available, busy or in wrap-up."""
    cutoff = utcnow() - presence.OFFLINE_AFTER
    return (
        session.scalar(
            select(func.count())
            .select_from(Operator)
            .where(
                Operator.is_active,
                Operator.presence.in_((Presence.AVAILABLE, Presence.BUSY, Presence.WRAP_UP)),
                or_(Operator.presence == Presence.BUSY, Operator.last_seen_at >= cutoff),
            )
        )
        or 0
    )


#: How long a process reuses a line's estimate figures (answers in the window, operators on
#: shift) before reading them again (issue 16). Every waiting caller's round read both; they
#: move slowly, and an estimate a few seconds behind is harmless (it is rounded to minutes when
#: spoken). A change this process flushes through the ORM (an operator's presence, a caller
#: connected) clears the memo at once (`_forget_estimates`).
ESTIMATE_MEMO_SECONDS = 5.0


@dataclass
class _Figures:
    answered: int
    staffed: int
    #: When read: monotonic seconds, and the wall clock (a test's clock may jump).
    at: float
    wall: datetime


_estimates: weakref.WeakKeyDictionary[Engine, dict[int, _Figures]] = weakref.WeakKeyDictionary()


def _estimate_figures(session: Session, line_id: int) -> tuple[int, int]:
    """(answers on the line in the last ANSWER_RATE_WINDOW, operators on shift)."""
    now = utcnow()
    engine = session.get_bind()
    memo = _estimates.setdefault(engine, {})  # type: ignore[arg-type]
    known = memo.get(line_id)
    if (
        known is not None
        and time.monotonic() - known.at < ESTIMATE_MEMO_SECONDS
        and timedelta(0) <= now - known.wall < timedelta(seconds=ESTIMATE_MEMO_SECONDS)
    ):
        return known.answered, known.staffed
    answered = session.scalar(
        select(func.count())
        .select_from(QueueEntry)
        .where(QueueEntry.line_id == line_id, QueueEntry.connected_at >= now - ANSWER_RATE_WINDOW)
    )
    staffed = staffed_operator_count(session)
    memo[line_id] = _Figures(answered or 0, staffed, time.monotonic(), now)
    return answered or 0, staffed


@event.listens_for(Session, "after_flush")
def _forget_estimates(session: Session, _flush_context) -> None:
    """A flush in this process that changes what the estimate reads clears the memo (a new
    operator, a presence, a caller connected); conditional UPDATEs and other processes show
    within ESTIMATE_MEMO_SECONDS."""
    if any(_changes_estimates(session, obj) for obj in (*session.new, *session.dirty)) or any(
        isinstance(obj, (Operator, QueueEntry)) for obj in session.deleted
    ):
        memo = _estimates.get(session.get_bind())  # type: ignore[arg-type]
        if memo:
            memo.clear()


def _changes_estimates(session: Session, obj: object) -> bool:
    if isinstance(obj, Operator):
        names: tuple[str, ...] = ("presence", "is_active")
    elif isinstance(obj, QueueEntry):
        if obj in session.new:
            return obj.connected_at is not None
        names = ("connected_at",)
    else:
        return False
    if obj in session.new:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def estimate_for(session: Session, entry: QueueEntry, position: int) -> int:
    """The estimated wait of `entry` at `position`, from its line's recent answers."""
    answered, staffed = _estimate_figures(session, entry.line_id)
    return estimate_wait_seconds(
        position,
        answered_in_window=answered,
        window_seconds=ANSWER_RATE_WINDOW.total_seconds(),
        staffed_operators=staffed,
    )


def live_snapshot(session: Session, line_id: int | None = None) -> dict:
    """The queue right now, for the console, supervisors' SMS and alerts.

    Keys: waiting (count), longest_wait_seconds, available_operators (console open and
    available), busy_operators, wrap_up_operators, connecting (callers being connected),
    oldest_enqueued_at (ISO 8601 or None). Read-only.
    """
    now = utcnow()
    # Counted by the database: with thousands waiting, fetching every row each second (for
    # every console) would cost more than everything else the console shows.
    live = (
        select(QueueEntry.status, func.count(), func.min(QueueEntry.enqueued_at))
        .where(QueueEntry.status.in_((QueueStatus.WAITING, QueueStatus.CONNECTING)))
        .group_by(QueueEntry.status)
    )
    if line_id is not None:
        live = live.where(QueueEntry.line_id == line_id)
    waiting = connecting = 0
    oldest: datetime | None = None
    for status, count, earliest in session.execute(live):
        if status == QueueStatus.WAITING:
            waiting = count
            oldest = as_utc(earliest)
        else:
            connecting = count
    cutoff = now - presence.OFFLINE_AFTER
    counts = dict(
        session.execute(
            select(Operator.presence, func.count())
            .where(
                Operator.is_active,
                or_(Operator.presence == Presence.BUSY, Operator.last_seen_at >= cutoff),
            )
            .group_by(Operator.presence)
        ).all()
    )
    return {
        "waiting": waiting,
        "longest_wait_seconds": int((now - oldest).total_seconds()) if oldest else 0,
        "available_operators": counts.get(Presence.AVAILABLE, 0),
        "busy_operators": counts.get(Presence.BUSY, 0),
        "wrap_up_operators": counts.get(Presence.WRAP_UP, 0),
        "connecting": connecting,
        "oldest_enqueued_at": oldest.isoformat() if oldest else None,
    }


# --------------------------------------------------------------------------- transitions


def transition(
    session: Session,
    entry: QueueEntry,
    from_statuses: tuple[QueueStatus, ...],
    to_status: QueueStatus,
    **values,
) -> bool:
    """Move `entry` to `to_status` only if it is still in one of `from_statuses` (no commit).

    A conditional UPDATE that proceeds only when exactly one row changed: two webhooks (or two
    operators) racing for the same entry cannot both win.
    """
    # The winner's row comes back with the UPDATE (RETURNING every column: what a refresh
    # would read, a concurrent change to another column included), one statement where the
    # UPDATE and a refresh were two (issue 16).
    row = session.execute(
        update(QueueEntry)
        .where(QueueEntry.id == entry.id, QueueEntry.status.in_(from_statuses))
        .values(status=to_status, updated_at=utcnow(), **values)
        .returning(*_ENTRY_COLUMNS.values())
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        session.refresh(entry)
        return False
    for key, value in zip(_ENTRY_COLUMNS, row, strict=True):
        set_committed_value(entry, key, value)
    return True


#: Every column attribute of QueueEntry (key -> column), for transition()'s RETURNING.
_ENTRY_COLUMNS = {attr.key: attr.columns[0] for attr in inspect(QueueEntry).column_attrs}


#: Built once (issue 16): every wait round and queue webhook asks it.
_ENTRY_BY_CALL_SID = (
    select(QueueEntry)
    .join(Call, Call.id == QueueEntry.call_id)
    .where(Call.call_sid == bindparam("sid"))
)


def entry_for_call_sid(session: Session, call_sid: str) -> QueueEntry | None:
    """The queue entry of a call, by Twilio's CallSid."""
    return session.scalar(_ENTRY_BY_CALL_SID, {"sid": call_sid})


def callback_number(call: Call, caller: Caller | None) -> str | None:
    """The number to call back: the caller's profile, else the number the call came from."""
    if caller is not None:
        return caller.phone_number
    raw = call.to_number if call.direction == CallDirection.OUTBOUND else call.from_number
    number = try_normalise(raw)
    return number if number and number.startswith("+") else None


def _owe_callback(
    session: Session, entry: QueueEntry, *, reason: CallbackReason, note: str
) -> None:
    """Say that `entry`'s caller is owed a callback (ordered by the entry's original arrival).

    The queue decides that a callback is owed; recording it is not the queue's business: the
    CallbackOwed subscriber (the voice orchestration) does it in this same transaction.
    """
    session.flush()
    publish(session, CallbackOwed(entry.id, reason.value, note))


# --------------------------------------------------------------------------- the wait


@dataclass
class WaitTurn:
    """What the caller hears next while in the queue."""

    #: announce (position and estimate), quiet (just keep listening), connecting (an operator
    #: was chosen), leave (virtual hold or wait cap: <Leave>), unknown (no entry found).
    kind: str
    language: str = "zh-CN"
    entry: QueueEntry | None = None
    position: int = 0
    estimate_seconds: int = 0
    offer_callback: bool = False
    is_first: bool = False
    pause_seconds: int = 50
    turn: int = 0


def can_offer_callback(session: Session, entry: QueueEntry, line: Line, now: datetime) -> bool:
    """After the configured wait, if there is a number to call back."""
    if (now - entry.enqueued_at).total_seconds() < line.offer_callback_after_seconds:
        return False
    call = session.get(Call, entry.call_id)
    caller = session.get(Caller, entry.caller_id) if entry.caller_id else None
    return call is not None and callback_number(call, caller) is not None


def _ensure_entry(session: Session, call_sid: str) -> QueueEntry | None:
    """The entry of a call in the Twilio queue; created if the call got there without one."""
    entry = entry_for_call_sid(session, call_sid)
    if entry is not None:
        return entry
    call = session.scalar(CALL_BY_SID, {"sid": call_sid})
    if call is None or call.line_id is None:
        return None
    caller = session.get(Caller, call.caller_id) if call.caller_id else None
    log.warning("call %s reached the Twilio queue without an entry; adding one", call_sid)
    return enqueue(session, call, caller, reason="unknown")


def wait_turn(
    session: Session,
    *,
    call_sid: str,
    queue_sid: str | None,
    language: str,
    announce: bool = True,
) -> WaitTurn:
    """The next round of the wait for `call_sid` (Twilio asks whenever the last one ran out).

    Applies the wait cap; otherwise announces the position and the estimated wait, offering a
    callback once the caller has waited long enough. Flushes; the webhook guard commits.
    """
    entry = _ensure_entry(session, call_sid)
    if entry is None:
        return WaitTurn("unknown", language=language)
    if queue_sid and entry.queue_sid != queue_sid:
        entry.queue_sid = queue_sid
    language = entry.language or language
    if entry.status != QueueStatus.WAITING:
        return WaitTurn("connecting", language=language, entry=entry)
    line = lines_cache.line_by_id(session, entry.line_id)
    assert line is not None
    now = utcnow()
    waited = (now - entry.enqueued_at).total_seconds()
    if waited >= line.max_wait_seconds and move_to_voicemail(session, entry, note="wait cap"):
        return WaitTurn("leave", language=language, entry=entry)
    position = position_of(session, entry)
    offer = can_offer_callback(session, entry, line, now)
    is_first = entry.wait_turns == 0
    entry.wait_turns += 1
    turn = entry.wait_turns
    if announce:
        entry.last_announced_at = now
    # End the round when something changes for the caller (the offer, the cap), not later.
    upcoming = [line.max_wait_seconds - waited]
    if not offer:
        upcoming.append(line.offer_callback_after_seconds - waited)
    ahead = [seconds for seconds in upcoming if seconds > 0]
    spoken = ANNOUNCEMENT_SECONDS if announce else 0
    pause = (min(ahead) - spoken) if ahead else 50
    estimate = estimate_for(session, entry, position)
    return WaitTurn(
        "announce" if announce else "quiet",
        language=language,
        entry=entry,
        position=position,
        estimate_seconds=estimate,
        offer_callback=offer,
        is_first=is_first,
        pause_seconds=int(max(5, min(50, pause))),
        turn=turn,
    )


def wait_input(
    session: Session,
    *,
    call_sid: str,
    queue_sid: str | None,
    language: str,
    digits: str | None,
    speech: str | None,
) -> WaitTurn:
    """A key or a word while waiting: `*` (or "repeat") repeats, 1 (or 回电) takes the callback
    when it was offered; anything else just keeps the caller waiting. Flushes; the webhook guard commits."""
    from hotline.ivr.engine import REPEAT_WORDS, _clean
    from hotline.queue.twiml import CALLBACK_WORDS

    key = (digits or "").strip()[:1]
    heard = _clean(speech or "")
    entry = _ensure_entry(session, call_sid)
    lang = entry.language if entry is not None else language
    if not key and heard:
        if any(_clean(w) in heard for w in CALLBACK_WORDS.get(lang, ())):
            key = "1"
        elif any(_clean(w) in heard for w in REPEAT_WORDS.get(lang, ())):
            key = "*"
    if key == "1" and entry is not None and entry.status == QueueStatus.WAITING:
        line = lines_cache.line_by_id(session, entry.line_id)
        assert line is not None
        if can_offer_callback(session, entry, line, utcnow()) and choose_callback(session, entry):
            return WaitTurn("leave", language=lang, entry=entry)
    return wait_turn(
        session, call_sid=call_sid, queue_sid=queue_sid, language=language, announce=key == "*"
    )


def choose_callback(session: Session, entry: QueueEntry) -> bool:
    """Virtual hold: leave the queue, keep the place as a callback. Flushes; the webhook guard commits."""
    now = utcnow()
    waited = int((now - entry.enqueued_at).total_seconds())
    if not transition(session, entry, (QueueStatus.WAITING,), QueueStatus.CALLBACK, ended_at=now):
        return False
    call = session.get(Call, entry.call_id)
    assert call is not None
    call.outcome = CallOutcome.CALLBACK_REQUESTED
    _owe_callback(
        session,
        entry,
        reason=CallbackReason.VIRTUAL_HOLD,
        note=f"chose a callback after {waited} s",
    )
    return True


def move_to_voicemail(session: Session, entry: QueueEntry, *, note: str) -> bool:
    """Wait cap (or a failed Twilio queue): voicemail, and a callback owed right away, so
    hanging up during the message loses nothing. Flushes; the webhook guard commits."""
    now = utcnow()
    if not transition(session, entry, (QueueStatus.WAITING,), QueueStatus.VOICEMAIL, ended_at=now):
        return False
    call = session.get(Call, entry.call_id)
    assert call is not None
    call.outcome = CallOutcome.WAIT_CAP
    waited = int((now - entry.enqueued_at).total_seconds())
    _owe_callback(session, entry, reason=CallbackReason.VOICEMAIL, note=f"{note} after {waited} s")
    return True


# --------------------------------------------------------------------------- leaving


@dataclass
class QueueExit:
    """What the caller hears after the <Enqueue> ended."""

    #: callback (confirm and hang up), voicemail (record a message), nothing (Twilio ignores the
    #: answer or the call is over), requeue (put back in the queue).
    kind: str
    language: str = "zh-CN"
    entry: QueueEntry | None = None


def queue_exit(
    session: Session, *, call_sid: str, queue_result: str | None, language: str
) -> QueueExit:
    """The <Enqueue> action: why the caller left the Twilio queue, and what comes next. Flushes; the webhook guard commits."""
    entry = entry_for_call_sid(session, call_sid)
    lang = entry.language if entry is not None else language
    result = (queue_result or "").strip()
    if entry is None:
        return QueueExit(
            "nothing" if result in ("hangup", "redirected") else "voicemail_unknown", lang
        )
    if result == "hangup":
        caller_gone(session, entry)
        return QueueExit("nothing", lang, entry)
    if result in ("redirected", "bridging-in-process"):
        # Our REST dequeue: the call already runs the join document.
        return QueueExit("nothing", lang, entry)
    if result == "leave":
        if entry.status == QueueStatus.CALLBACK:
            return QueueExit("callback", lang, entry)
        if entry.status == QueueStatus.VOICEMAIL:
            return QueueExit("voicemail", lang, entry)
        if entry.status == QueueStatus.WAITING:
            # Left without our say-so: a person is still owed.
            move_to_voicemail(session, entry, note="left the queue")
            return QueueExit("voicemail", lang, entry)
        return QueueExit("nothing", lang, entry)
    if result in ("queue-full", "error", "system-error"):
        log.error("Twilio queue failed for call %s: %s", call_sid, result)
        if entry.status == QueueStatus.WAITING and move_to_voicemail(
            session, entry, note=f"Twilio queue {result}"
        ):
            return QueueExit("voicemail", lang, entry)
        return QueueExit("voicemail_unknown", lang, entry)
    # bridged, redirected-from-bridged: we never <Dial><Queue>; the call is over.
    return QueueExit("nothing", lang, entry)


def caller_gone(session: Session, entry: QueueEntry) -> None:
    """The caller hung up before talking to anyone (no commit).

    A hang-up after `abandon_callback_after_seconds` owes a callback (ABANDONED), keeping the
    original arrival; a quicker one is a short abandon, counted and not called back.
    """
    now = utcnow()
    previous_operator = entry.operator_id
    if not transition(
        session,
        entry,
        (QueueStatus.WAITING, QueueStatus.CONNECTING),
        QueueStatus.ABANDONED,
        ended_at=now,
    ):
        return
    line = lines_cache.line_by_id(session, entry.line_id)
    call = session.get(Call, entry.call_id)
    assert line is not None and call is not None
    if previous_operator is not None:
        # Their phone may still ring; when they answer they hear that the caller has gone.
        operator = session.get(Operator, previous_operator)
        if operator is not None and operator.presence == Presence.BUSY:
            presence.mark(operator, Presence.AVAILABLE)
    waited = int((now - entry.enqueued_at).total_seconds())
    if waited >= line.abandon_callback_after_seconds:
        call.outcome = CallOutcome.ABANDONED
        _owe_callback(
            session,
            entry,
            reason=CallbackReason.ABANDONED,
            note=f"hung up after waiting {waited} s",
        )
    else:
        call.outcome = CallOutcome.SHORT_ABANDON
    log.info("call %s abandoned the queue after %s s", call.call_sid, waited)


def wrap_up_seconds(session: Session, entry: QueueEntry) -> int:
    """How long the operator of `entry` wraps up after it: the line's wrap-up time."""
    line = session.get(Line, entry.line_id)
    return line.wrap_up_seconds if line is not None else presence.DEFAULT_WRAP_UP_SECONDS


def talk_started(session: Session, entry: QueueEntry, operator_id: int, now: datetime) -> None:
    """The operator is in the conversation from `now` (they answered the caller they took,
    or joined a colleague's call as a warm transfer): a stretch of talk opens (no commit)."""
    session.add(
        OperatorTalk(
            queue_entry_id=entry.id,
            call_id=entry.call_id,
            operator_id=operator_id,
            started_at=now,
        )
    )


def talk_ended(
    session: Session,
    entry_id: int,
    how: TalkEnd,
    *,
    operator_id: int | None = None,
    others: TalkEnd | None = None,
    now: datetime | None = None,
) -> None:
    """Close the open stretches of talk of a conversation, ended `how`: only `operator_id`'s
    when it is given alone; every one when it is not, or when `others` is given (then
    `operator_id`'s ends `how` and everyone else's `others`). One UPDATE (no commit)."""
    query = update(OperatorTalk).where(
        OperatorTalk.queue_entry_id == entry_id, OperatorTalk.ended_at.is_(None)
    )
    if operator_id is not None and others is None:
        query = query.where(OperatorTalk.operator_id == operator_id)
    ended_by = (
        case((OperatorTalk.operator_id == operator_id, how.value), else_=others.value)
        if others is not None
        else how.value
    )
    session.execute(
        query.values(ended_at=now or utcnow(), ended_by=ended_by).execution_options(
            synchronize_session=False
        )
    )


def talk_resumed(session: Session, entry_id: int, operator_id: int | None) -> None:
    """The operator could not leave after all (a failed REST request): their stretch closed by
    the transfer goes on (no commit)."""
    session.execute(
        update(OperatorTalk)
        .where(
            OperatorTalk.queue_entry_id == entry_id,
            OperatorTalk.operator_id == operator_id,
            OperatorTalk.ended_by.in_((TalkEnd.TRANSFERRED, TalkEnd.COLD_TRANSFER)),
        )
        .values(ended_at=None, ended_by=None)
        .execution_options(synchronize_session=False)
    )


def conversation_over(
    session: Session, entry: QueueEntry, how: TalkEnd = TalkEnd.CALL_ENDED
) -> bool:
    """The talk with the operator ended: the entry completes, the operator's stretch of talk
    closes (`how`; a colleague who had joined as a transfer and was not handed the call yet:
    CALL_ENDED), and the operator wraps up (no commit)."""
    now = utcnow()
    if not transition(
        session, entry, (QueueStatus.CONNECTED,), QueueStatus.COMPLETED, ended_at=now
    ):
        return False
    talk_ended(
        session, entry.id, how, operator_id=entry.operator_id, others=TalkEnd.CALL_ENDED, now=now
    )
    presence.mark_by_id(
        session,
        entry.operator_id,
        Presence.WRAP_UP,
        wrap_up_seconds=wrap_up_seconds(session, entry),
    )
    if entry.transfer_operator_id is not None:
        presence.mark_by_id(session, entry.transfer_operator_id, Presence.AVAILABLE)
    return True


def on_call_ended(session: Session, event: CallEnded) -> None:
    """CallEnded subscriber: a caller's call reached a terminal status.

    Backs up the <Enqueue> action (which may arrive later, or never after a REST dequeue): a
    waiting or connecting caller abandoned; a connected one finished. Must not commit.
    """
    call = session.get(Call, event.call_id)  # in the identity map: no statement
    if call is not None and call.queued_at is None:
        return  # never queued: enqueue() sets queued_at with the entry, so there is none
    entry = session.scalar(select(QueueEntry).where(QueueEntry.call_id == event.call_id))
    if entry is None:
        return
    if entry.status in (QueueStatus.WAITING, QueueStatus.CONNECTING):
        caller_gone(session, entry)
    elif entry.status == QueueStatus.CONNECTED:
        conversation_over(session, entry)
