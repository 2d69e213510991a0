"""Per-process caches of lines and their calendar overrides (issue 16).

Lines and calendars change a few times a year but were read on every webhook. Each process now
keeps them in memory, keyed by engine (two apps in one process keep separate caches, as two
processes would), tagged with the `settings_version` counter they were loaded at. A request
reads the counter once (one primary-key SELECT, remembered in the session until it commits or
changes settings itself) and reloads everything when it moved.

Correct across processes because every flush that adds, changes or deletes a Line,
CalendarOverride or LineRecipient bumps the counter in the same transaction (a session
listener in hotline.lines.models, registered whenever the models are imported, so no code path
can forget it): once the change is committed, the next request
anywhere sees the new counter. Only bulk Core UPDATEs of those tables would bypass the bump;
the app issues none.

Cached rows are detached snapshots; callers get a copy merged into their session without a
SELECT (`Session.merge(load=False)`), so no ORM instance is shared between threads.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hotline.lines.calendar import LineCalendar
from hotline.lines.models import BUMPED as _BUMPED
from hotline.lines.models import SEEN as _SEEN
from hotline.lines.models import WATCHED, CalendarOverride, Line, SettingsVersion


@dataclass
class _Snapshot:
    """What one process knows at one counter value."""

    version: int
    lines: dict[int, Line]
    by_number: dict[str, int]
    overrides: dict[int | None, dict[date, bool]] = field(default_factory=dict)


_snapshots: weakref.WeakKeyDictionary[Engine, _Snapshot] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def current_version(session: Session) -> int:
    """The settings counter, read once per transaction of `session`."""
    seen = session.info.get(_SEEN)
    if seen is None:
        seen = session.scalar(select(SettingsVersion.version).where(SettingsVersion.id == 1))
        seen = int(seen or 0)
        session.info[_SEEN] = seen
    return seen


def _snapshot(session: Session) -> _Snapshot:
    if any(isinstance(obj, WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.flush()  # as the query this replaces would autoflush: the bump, and own edits
    engine = session.get_bind()
    version = current_version(session)
    cached = _snapshots.get(engine)
    if cached is not None and cached.version == version and not session.info.get(_BUMPED):
        return cached
    # Loaded after the counter was read: the rows are at least as new as `version`, so a
    # change committed in between only causes one more reload, never a stale entry. A separate
    # session on the same connection (same transaction) loads them, so the caller's session
    # keeps its own Line instances attached; the copies are then detached.
    with Session(bind=session.connection(), autoflush=False) as loader:
        rows = loader.scalars(select(Line)).all()
        loader.expunge_all()
    lines = {row.id: row for row in rows}
    by_number = {row.phone_number: row.id for row in rows if row.is_active}
    fresh = _Snapshot(version=version, lines=lines, by_number=by_number)
    if not session.info.get(_BUMPED):
        # A transaction that changed settings may still roll back, and another process could
        # then commit the same counter value with other rows: its reads are never kept.
        with _lock:
            _snapshots[engine] = fresh
    return fresh


def _attached(session: Session, line: Line) -> Line:
    existing = session.identity_map.get(session.identity_key(Line, line.id))
    if existing is not None:
        return existing  # type: ignore[return-value]
    return session.merge(line, load=False)


def line_by_id(session: Session, line_id: int) -> Line | None:
    """The line with `line_id`, from the cache, attached to `session`."""
    line = _snapshot(session).lines.get(line_id)
    return None if line is None else _attached(session, line)


def active_line(session: Session, number: str | None) -> Line | None:
    """The active line with phone number `number`, else the first active line (by id)."""
    snapshot = _snapshot(session)
    line_id = snapshot.by_number.get(number) if number else None
    if line_id is None:
        line_id = next((i for i in sorted(snapshot.lines) if snapshot.lines[i].is_active), None)
    return None if line_id is None else _attached(session, snapshot.lines[line_id])


def overrides_for(session: Session, line_id: int) -> dict[date, bool]:
    """The calendar overrides of a line (line-specific ones beat deployment-wide ones)."""
    snapshot = _snapshot(session)
    overrides = snapshot.overrides.get(line_id)
    if overrides is None:
        rows = session.execute(
            select(
                CalendarOverride.line_id, CalendarOverride.day, CalendarOverride.is_working_day
            ).where(or_(CalendarOverride.line_id.is_(None), CalendarOverride.line_id == line_id))
        ).all()
        overrides = {}
        for row in sorted(rows, key=lambda r: r.line_id is not None):
            overrides[row.day] = row.is_working_day
        with _lock:
            snapshot.overrides[line_id] = overrides
    return dict(overrides)


def calendar_for(session: Session, line: Line) -> LineCalendar:
    """The line's calendar with its overrides from the cache (the holiday sets are cached per
    year by hotline.lines.calendar)."""
    return LineCalendar(line, overrides_for(session, line.id))
