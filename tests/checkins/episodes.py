"""Building check-in episodes in a given state, for the console, figures and report tests
(the clock's own path is tested in the other check-in tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from hotline.checkins.models import CheckinEnrolment, CheckinEpisode, EpisodeStatus


def make_episode(
    session: Session,
    enrolment: CheckinEnrolment,
    due_date: date,
    status: EpisodeStatus = EpisodeStatus.DUE,
    *,
    timezone: str = "Asia/Shanghai",
    **fields: Any,
) -> CheckinEpisode:
    """One episode of `enrolment` on `due_date`, its window from the enrolment (line time)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(due_date, enrolment.window_start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(due_date, enrolment.window_end, tzinfo=zone).astimezone(UTC)
    episode = CheckinEpisode(
        enrolment_id=enrolment.id,
        caller_id=enrolment.caller_id,
        line_id=enrolment.line_id,
        volunteer_id=fields.pop("volunteer_id", enrolment.volunteer_id),
        due_date=due_date,
        window_start_at=start,
        window_end_at=end,
        status=status,
        **fields,
    )
    session.add(episode)
    session.flush()
    return episode


def local(day: date, hour: int, minute: int = 0, timezone: str = "Asia/Shanghai") -> datetime:
    """A local time of `day` as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def missed(day: date, *, reached_after_minutes: float | None = None, **fields: Any) -> dict:
    """The fields of an episode missed at 11:00 local, reached `reached_after_minutes` later."""
    missed_at = local(day, 11)
    fields.update(missed_at=missed_at, attempts=fields.get("attempts", 3))
    if reached_after_minutes is not None:
        fields.update(closed_at=missed_at + timedelta(minutes=reached_after_minutes))
    return fields
