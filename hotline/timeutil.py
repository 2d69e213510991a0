"""Time helpers: every timestamp the hotline stores is an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (tests freeze it with time-machine)."""
    return datetime.now(UTC)


def local_now(timezone: str) -> datetime:
    """Return the current wall-clock time in the given IANA time zone."""
    return utcnow().astimezone(ZoneInfo(timezone))


def as_utc(value: datetime | None) -> datetime | None:
    """Treat a naive datetime as UTC (SQLite returns naive values) and convert aware ones."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
