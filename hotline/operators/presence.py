"""Operator presence: available, busy, wrap_up, away, offline, and its log.

Operators choose only between available and away (with a reason: meal, training, other). The
rest is automatic: busy from the moment they take a caller until the call ends, then wrap_up
for the line's wrap-up time (`Line.wrap_up_seconds`, "+60 s" extends it) or until they say they
are ready (or take the next caller), and offline when their console has stopped polling for
`OFFLINE_AFTER`.

Every change goes through one conditional UPDATE (`_switch`): it proceeds only while the row is
still in the state this worker read (presence and presence_changed_at), and then writes the
finished period to the presence log (`PresenceLog`). Two workers racing to change the same
operator cannot both log the period they both saw; the loser re-reads and decides again.

Overdue wrap-ups end lazily, not by a clock job: whoever reads the state next (the operator's
own poll, every second; any console's heartbeat sweep, every few seconds; the supervisors'
live board) ends them with that conditional UPDATE, dated at the deadline itself
(`wrap_up_until`), not at the moment it was noticed. So the log is exact whichever worker (or
none for a while) notices, no extra process is needed, and with several web workers only one
of them writes the period. Nothing but the display depends on the end being noticed at once:
taking the next caller is allowed in wrap-up anyway.

Nothing here commits: functions named `mark_*` change the row inside a queue service's
transaction, the others flush, and the console view (the entry point) commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from hotline.operators.models import AwayReason, Operator, Presence, PresenceLog
from hotline.timeutil import as_utc, utcnow

#: A console polls every couple of seconds; a minute without a poll means it was closed.
OFFLINE_AFTER = timedelta(seconds=60)
#: A poll younger than this needs no write.
HEARTBEAT_EVERY = timedelta(seconds=10)
#: What an operator may choose by hand.
CHOOSABLE = (Presence.AVAILABLE, Presence.AWAY)
#: Wrap-up time when the line is not known (Line.wrap_up_seconds has the same default).
DEFAULT_WRAP_UP_SECONDS = 60
#: What "+60 s" adds to a wrap-up.
EXTEND_SECONDS = 60
#: Attempts of a conditional change before giving up (each loser re-reads the row).
_ATTEMPTS = 3


#: How the console names each presence: (中文, English).
PRESENCE_LABELS = {
    Presence.AVAILABLE: ("空闲", "Available"),
    Presence.BUSY: ("通话中", "On a call"),
    Presence.WRAP_UP: ("整理中", "Wrap-up"),
    Presence.AWAY: ("暂离", "Away"),
    Presence.OFFLINE: ("离线", "Offline"),
}
#: Why an operator is away: (中文, English).
AWAY_REASON_LABELS = {
    AwayReason.MEAL: ("用餐", "Meal"),
    AwayReason.TRAINING: ("培训", "Training"),
    AwayReason.OTHER: ("其他", "Other"),
}


@dataclass(frozen=True)
class Seen:
    """An operator's presence as one worker read it (what its conditional change expects)."""

    operator_id: int
    presence: Presence
    since: datetime | None
    reason: str | None
    wrap_up_until: datetime | None

    @classmethod
    def of(cls, operator: Operator) -> Seen:
        return cls(
            operator.id,
            operator.presence,
            as_utc(operator.presence_changed_at),
            operator.away_reason.value if operator.away_reason else None,
            as_utc(operator.wrap_up_until),
        )


def finished_periods(
    seen: Seen, now: datetime
) -> list[tuple[Presence, str | None, datetime, datetime]]:
    """The periods a change at `now` finishes: (state, reason, since, until). A wrap-up past its
    deadline finished at the deadline, and the operator was available from then on."""
    if seen.since is None:
        return []  # never changed before (a new account): nothing to log
    deadline = seen.wrap_up_until
    if seen.presence == Presence.WRAP_UP and deadline is not None and seen.since <= deadline < now:
        return [
            (Presence.WRAP_UP, None, seen.since, deadline),
            (Presence.AVAILABLE, None, deadline, now),
        ]
    return [(seen.presence, seen.reason, seen.since, max(seen.since, now))]


def _switch(
    session: Session,
    seen: Seen,
    to: Presence,
    *,
    now: datetime,
    reason: AwayReason | None = None,
    wrap_up_seconds: int | None = None,
    since: datetime | None = None,
    also: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Change the operator from `seen` to `to` if nobody changed them meanwhile (no commit).
    Logs the finished period(s). Returns the values written, or None when the row had moved.
    Available after a wrap-up that is already over counts from its deadline."""
    deadline = seen.wrap_up_until
    overdue = seen.presence == Presence.WRAP_UP and deadline is not None and deadline < now
    if since is None and to == Presence.AVAILABLE and overdue:
        since = max(deadline, seen.since or deadline)
    since = since or now
    values: dict[str, Any] = {
        "presence": to,
        "presence_changed_at": since,
        "away_reason": reason if to == Presence.AWAY else None,
        "wrap_up_until": (
            since + timedelta(seconds=wrap_up_seconds or DEFAULT_WRAP_UP_SECONDS)
            if to == Presence.WRAP_UP
            else None
        ),
        **(also or {}),
    }
    changed_at = (
        Operator.presence_changed_at.is_(None)
        if seen.since is None
        else Operator.presence_changed_at == seen.since
    )
    result = session.execute(
        update(Operator)
        .where(Operator.id == seen.operator_id, Operator.presence == seen.presence, changed_at)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    for state, why, start, end in finished_periods(seen, since):
        session.add(
            PresenceLog(
                operator_id=seen.operator_id, state=state, reason=why, since=start, until=end
            )
        )
    return values


def _in_step(operator: Operator, values: dict[str, Any]) -> None:
    """Show what the conditional UPDATE wrote on the loaded object, without another statement."""
    for name, value in values.items():
        set_committed_value(operator, name, value)


def _loaded(session: Session, operator_id: int) -> Operator | None:
    """The operator's object if this session holds it (no statement)."""
    found = session.identity_map.get(identity_key(Operator, operator_id))
    return found if isinstance(found, Operator) else None


def change(
    session: Session,
    operator: Operator,
    to: Presence,
    *,
    now: datetime | None = None,
    reason: AwayReason | None = None,
    wrap_up_seconds: int | None = None,
    only_from: Collection[Presence] | None = None,
    also: dict[str, Any] | None = None,
) -> bool:
    """Move a loaded operator to `to` (logged, conditional, no commit); the object is kept in
    step without another statement. False when they are not in one of `only_from` (re-read
    after a lost race). Nothing is written when they already are in `to` for the same reason."""
    now = now or utcnow()
    wanted_reason = reason if to == Presence.AWAY else None
    for _attempt in range(_ATTEMPTS):
        if only_from is not None and operator.presence not in only_from:
            return False
        if operator.presence == to and operator.away_reason == wanted_reason:
            for name, value in (also or {}).items():
                setattr(operator, name, value)
            return True
        values = _switch(
            session,
            Seen.of(operator),
            to,
            now=now,
            reason=wanted_reason,
            wrap_up_seconds=wrap_up_seconds,
            also=also,
        )
        if values is not None:
            _in_step(operator, values)
            return True
        session.refresh(operator)  # someone else changed them: decide again on what is there
    return False


def mark(
    operator: Operator,
    presence: Presence,
    *,
    now: datetime | None = None,
    reason: AwayReason | None = None,
    wrap_up_seconds: int | None = None,
) -> None:
    """Set `presence` (no commit); the time of the change is kept for the console and the
    finished period goes to the presence log."""
    session = object_session(operator)
    assert session is not None, "mark() needs an operator loaded in a session"
    change(session, operator, presence, now=now, reason=reason, wrap_up_seconds=wrap_up_seconds)


def mark_by_id(
    session: Session,
    operator_id: int | None,
    presence: Presence,
    *,
    wrap_up_seconds: int | None = None,
) -> None:
    """`mark` for an operator id (ignores None and unknown ids)."""
    if operator_id is None:
        return
    operator = session.get(Operator, operator_id)
    if operator is not None:
        mark(operator, presence, wrap_up_seconds=wrap_up_seconds)


def end_overdue_wrap_ups(
    session: Session, *, operator_id: int | None = None, now: datetime | None = None
) -> int:
    """Wrap-ups past their deadline end, dated at the deadline (no commit). Safe with several
    workers: each row moves by a conditional UPDATE, so only one worker logs it."""
    now = now or utcnow()
    query = select(Operator.id, Operator.presence_changed_at, Operator.wrap_up_until).where(
        Operator.presence == Presence.WRAP_UP, Operator.wrap_up_until <= now
    )
    if operator_id is not None:
        query = query.where(Operator.id == operator_id)
    ended = 0
    for op_id, since, deadline in session.execute(query).all():
        seen = Seen(op_id, Presence.WRAP_UP, as_utc(since), None, as_utc(deadline))
        # The wrap-up period ends at the deadline; the available one starts there.
        values = _switch(session, seen, Presence.AVAILABLE, now=now, since=as_utc(deadline))
        if values is not None:
            ended += 1
            if (loaded := _loaded(session, op_id)) is not None:
                _in_step(loaded, values)
    return ended


def extend_wrap_up(
    session: Session, operator_id: int, *, seconds: int = EXTEND_SECONDS
) -> datetime | None:
    """ "+60 s": the wrap-up ends later (from its deadline, or from now when that has just
    passed). The new deadline, or None when the operator is not wrapping up. Flushes; the
    console view commits."""
    operator = session.get(Operator, operator_id)
    if operator is None or operator.presence != Presence.WRAP_UP:
        return None
    now = utcnow()
    old = as_utc(operator.wrap_up_until)
    new = max(old or now, now) + timedelta(seconds=seconds)
    result = session.execute(
        update(Operator)
        .where(
            Operator.id == operator_id,
            Operator.presence == Presence.WRAP_UP,
            Operator.wrap_up_until.is_(None) if old is None else Operator.wrap_up_until == old,
        )
        .values(wrap_up_until=new)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(operator)
        return None
    set_committed_value(operator, "wrap_up_until", new)
    session.flush()
    return new


def heartbeat(session: Session, operator_id: int) -> Operator | None:
    """The console polled: the operator is here. An offline operator comes back available
    (opening the queue console is how a shift starts); operators whose console went quiet go
    offline; the operator's own wrap-up ends when its time is up. Writes at most every
    HEARTBEAT_EVERY per operator (and when the wrap-up ends), so polling every second or two
    costs one write in several. Flushes; the console view commits."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        return None
    now = utcnow()
    deadline = as_utc(operator.wrap_up_until)
    if operator.presence == Presence.WRAP_UP and deadline is not None and deadline <= now:
        end_overdue_wrap_ups(session, operator_id=operator_id, now=now)
    recent = operator.last_seen_at is not None and now - operator.last_seen_at < HEARTBEAT_EVERY
    if recent and operator.presence != Presence.OFFLINE:
        return operator
    if operator.presence == Presence.OFFLINE:
        change(session, operator, Presence.AVAILABLE, now=now, also={"last_seen_at": now})
    else:
        operator.last_seen_at = now
    sweep(session, now=now)
    session.flush()
    return operator


def sweep(session: Session, *, now: datetime | None = None) -> None:
    """The lazy checks every console heartbeat runs: overdue wrap-ups end, closed consoles go
    offline (no commit)."""
    now = now or utcnow()
    end_overdue_wrap_ups(session, now=now)
    sweep_offline(session, now=now)


def sweep_offline(
    session: Session, *, offline_after: timedelta = OFFLINE_AFTER, now: datetime | None = None
) -> int:
    """Operators whose console stopped polling go offline (no commit). Busy operators stay busy:
    they may be talking on their phone with the browser closed."""
    now = now or utcnow()
    cutoff = now - offline_after
    # Flush first: an operator whose last_seen_at this worker just moved is not stale.
    session.flush()
    rows = session.execute(
        select(
            Operator.id,
            Operator.presence,
            Operator.presence_changed_at,
            Operator.away_reason,
            Operator.wrap_up_until,
        ).where(
            Operator.presence.in_((Presence.AVAILABLE, Presence.AWAY, Presence.WRAP_UP)),
            or_(Operator.last_seen_at.is_(None), Operator.last_seen_at < cutoff),
        )
    ).all()
    gone = 0
    for op_id, state, since, reason, deadline in rows:
        seen = Seen(op_id, state, as_utc(since), reason.value if reason else None, as_utc(deadline))
        values = _switch(session, seen, Presence.OFFLINE, now=now)
        if values is not None:
            gone += 1
            if (loaded := _loaded(session, op_id)) is not None:
                _in_step(loaded, values)
    return gone


def is_reachable(operator: Operator, *, offline_after: timedelta = OFFLINE_AFTER) -> bool:
    """Console open recently (its poll is younger than `offline_after`)."""
    return operator.last_seen_at is not None and operator.last_seen_at >= utcnow() - offline_after


def choose(
    session: Session,
    operator_id: int,
    presence: Presence,
    *,
    on_call: bool,
    reason: AwayReason | None = None,
) -> bool:
    """The operator picked available or away (with a reason; "other" when none was given) by
    hand. Refused while on a call. Flushes; the console view commits."""
    if presence not in CHOOSABLE or on_call:
        return False
    operator = session.get(Operator, operator_id)
    if operator is None:
        return False
    now = utcnow()
    if presence == Presence.AWAY and reason is None:
        reason = AwayReason.OTHER
    change(session, operator, presence, now=now, reason=reason, also={"last_seen_at": now})
    session.flush()
    return True


def signed_out(session: Session, operator_id: int) -> None:
    """An operator signed out: offline at once (flushes; the sign-out view commits)."""
    operator = session.get(Operator, operator_id)
    if operator is not None:
        mark(operator, Presence.OFFLINE)
        session.flush()
