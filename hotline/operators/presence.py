"""Operator presence: available, busy, wrap_up, away, offline.

Operators choose only between available and away. The rest is automatic: busy from the moment
they take a caller until the call ends, then wrap_up until they say they are ready (or take the
next caller), and offline when their console has stopped polling for `offline_after`.

Nothing here commits: functions named `mark_*` change the row inside a queue service's
transaction, the others flush, and the console view (the entry point) commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from hotline.operators.models import Operator, Presence
from hotline.timeutil import utcnow

#: A console polls every couple of seconds; a minute without a poll means it was closed.
OFFLINE_AFTER = timedelta(seconds=60)
#: A poll younger than this needs no write.
HEARTBEAT_EVERY = timedelta(seconds=10)
#: What an operator may choose by hand.
CHOOSABLE = (Presence.AVAILABLE, Presence.AWAY)


#: How the console names each presence: (中文, English).
PRESENCE_LABELS = {
    Presence.AVAILABLE: ("空闲", "Available"),
    Presence.BUSY: ("通话中", "On a call"),
    Presence.WRAP_UP: ("整理中", "Wrap-up"),
    Presence.AWAY: ("暂离", "Away"),
    Presence.OFFLINE: ("离线", "Offline"),
}


def mark(operator: Operator, presence: Presence, *, now: datetime | None = None) -> None:
    """Set `presence` (no commit); the time of the change is kept for the console."""
    if operator.presence != presence:
        operator.presence = presence
        operator.presence_changed_at = now or utcnow()


def mark_by_id(session: Session, operator_id: int | None, presence: Presence) -> None:
    """`mark` for an operator id (ignores None and unknown ids)."""
    if operator_id is None:
        return
    operator = session.get(Operator, operator_id)
    if operator is not None:
        mark(operator, presence)


def heartbeat(session: Session, operator_id: int) -> Operator | None:
    """The console polled: the operator is here. An offline operator comes back available
    (opening the queue console is how a shift starts); operators whose console went quiet go
    offline. Writes at most every HEARTBEAT_EVERY per operator, so polling every second or two
    costs one write in several. Flushes; the console view commits."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        return None
    now = utcnow()
    recent = operator.last_seen_at is not None and now - operator.last_seen_at < HEARTBEAT_EVERY
    if recent and operator.presence != Presence.OFFLINE:
        return operator
    operator.last_seen_at = now
    if operator.presence == Presence.OFFLINE:
        mark(operator, Presence.AVAILABLE, now=now)
    sweep_offline(session)
    session.flush()
    return operator


def sweep_offline(session: Session, *, offline_after: timedelta = OFFLINE_AFTER) -> int:
    """Operators whose console stopped polling go offline (no commit). Busy operators stay busy:
    they may be talking on their phone with the browser closed."""
    now = utcnow()
    cutoff = now - offline_after
    result = session.execute(
        update(Operator)
        .where(
            Operator.presence.in_((Presence.AVAILABLE, Presence.AWAY, Presence.WRAP_UP)),
            or_(Operator.last_seen_at.is_(None), Operator.last_seen_at < cutoff),
        )
        .values(presence=Presence.OFFLINE, presence_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def is_reachable(operator: Operator, *, offline_after: timedelta = OFFLINE_AFTER) -> bool:
    """Console open recently (its poll is younger than `offline_after`)."""
    return operator.last_seen_at is not None and operator.last_seen_at >= utcnow() - offline_after


def choose(session: Session, operator_id: int, presence: Presence, *, on_call: bool) -> bool:
    """The operator picked available or away by hand. Refused while on a call. Flushes; the
    console view commits."""
    if presence not in CHOOSABLE or on_call:
        return False
    operator = session.get(Operator, operator_id)
    if operator is None:
        return False
    mark(operator, presence)
    operator.last_seen_at = utcnow()
    session.flush()
    return True


def signed_out(session: Session, operator_id: int) -> None:
    """An operator signed out: offline at once (flushes; the sign-out view commits)."""
    operator = session.get(Operator, operator_id)
    if operator is not None:
        mark(operator, Presence.OFFLINE)
        session.flush()
