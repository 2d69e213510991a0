"""Time helpers: every timestamp the hotline stores is an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
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


def local_day(at: datetime, timezone: str) -> date:
    """The calendar day of `at` in `timezone`."""
    return at.astimezone(ZoneInfo(timezone)).date()


def local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC (23 or 25 hours long on daylight-saving changes)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end
