"""What the clock runs, and its heartbeat rows: the kernel half of `hotline.clock`.

Features declare their periodic jobs as `ClockJob`s and lease rows under `clock_id()`; the
console reads `last_heartbeat`. They import this module, never `hotline.clock` (the wiring layer
that lists the jobs and runs the scheduler), so no feature depends on the wiring above it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.db import Base
from hotline.timeutil import utcnow

#: Seconds between heartbeats; the console calls the clock stale after a few missed ones.
HEARTBEAT_SECONDS = 30
#: A clock not seen for this long is shown as stopped.
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)
#: Heartbeat rows of clocks gone for this long are removed.
FORGET_AFTER = timedelta(days=7)


class ClockHeartbeat(Base):
    """One row per clock process: when it started and when it was last alive."""

    __tablename__ = "clock_heartbeats"

    #: "hostname:pid" of the clock process.
    clock_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    #: The ids of the jobs this clock runs.
    job_ids: Mapped[list[Any]] = mapped_column(default=list)


@dataclass(frozen=True)
class ClockJob:
    """One periodic job: `func(app)` runs every `seconds` inside an app context."""

    id: str
    func: Callable[[Flask], None]
    seconds: int


_CLOCK_ID: dict[int, str] = {}


def clock_id() -> str:
    """Identifies this clock process in leases and heartbeats ("hostname:pid")."""
    pid = os.getpid()
    if pid not in _CLOCK_ID:
        _CLOCK_ID[pid] = f"{socket.gethostname()}:{pid}"[:80]
    return _CLOCK_ID[pid]


def record_heartbeat(
    session: Session, *, clock: str, job_ids: list[str], started_at: datetime | None = None
) -> ClockHeartbeat:
    """Store that `clock` is alive now (flushes; the clock job commits); forgets clocks gone for
    a week."""
    now = utcnow()
    row = session.get(ClockHeartbeat, clock)
    if row is None:
        row = ClockHeartbeat(
            clock_id=clock, started_at=started_at or now, last_seen_at=now, job_ids=job_ids
        )
        try:
            # The same clock id may race in twice (a restart with a reused pid): the savepoint
            # absorbs the loser's insert without touching anything else in the transaction.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = session.get(ClockHeartbeat, clock, populate_existing=True)
            row.last_seen_at = now
            row.job_ids = job_ids
    else:
        row.last_seen_at = now
        row.job_ids = job_ids
    session.execute(delete(ClockHeartbeat).where(ClockHeartbeat.last_seen_at < now - FORGET_AFTER))
    session.flush()
    return row


def last_heartbeat(session: Session) -> ClockHeartbeat | None:
    """The most recently seen clock, for the console's "clock last seen"."""
    return session.scalars(
        select(ClockHeartbeat).order_by(ClockHeartbeat.last_seen_at.desc()).limit(1)
    ).first()


def is_stale(heartbeat: ClockHeartbeat | None, now: datetime | None = None) -> bool:
    """True when no clock has been seen recently (nothing is being dispatched)."""
    if heartbeat is None:
        return True
    return (now or utcnow()) - heartbeat.last_seen_at > STALE_AFTER
