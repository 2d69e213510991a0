"""Time helpers: every timestamp the hotline stores is an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


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


#: The deployment's time zone when HOTLINE_TIMEZONE is not configured.
DEFAULT_TIMEZONE = "Asia/Shanghai"


def console_timezone() -> ZoneInfo:
    """The deployment's time zone (HOTLINE_TIMEZONE), used for dates typed into the console."""
    name = current_app.config.get("HOTLINE_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)
