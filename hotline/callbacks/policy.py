"""The retry policy: when the next attempt of a failed callback is due.

Each line says how many calls a callback gets (`Line.callback_max_attempts`, default 4: the call
when it is due, then the three retries mission.md describes) and how long to wait after each
failed one (`Line.callback_retry_delays`, default "30m,2h,next_working_day": +30 min after the
first miss, +2 h after the second, the start of the next working day's calling window after the
third; the last entry repeats). Whatever the delay, the attempt is moved into the calling window on a working day, so a
retry that would fall at 21:00 or on a holiday waits for the next working morning, and a make-up
workday (调休) counts as a working day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from hotline.lines.calendar import LineCalendar

NEXT_WORKING_DAY = "next_working_day"
_DELAY = re.compile(r"^(\d+)\s*(m|min|h)$")
#: Used when a line's policy cannot be read (logged by `parse_delays` callers, never fatal).
DEFAULT_DELAYS = "30m,2h,next_working_day"


class PolicyError(ValueError):
    """A line's retry policy is not readable."""


@dataclass(frozen=True)
class Delay:
    """Wait a fixed time, or until the next working day's calling window."""

    minutes: int | None = None

    @property
    def is_next_working_day(self) -> bool:
        return self.minutes is None


def parse_delays(raw: str) -> list[Delay]:
    """Read "30m,2h,next_working_day" into delays; raises PolicyError naming the bad entry."""
    delays: list[Delay] = []
    for part in (p.strip().lower() for p in (raw or "").split(",")):
        if not part:
            continue
        if part in (NEXT_WORKING_DAY, "next_day", "next-working-day"):
            delays.append(Delay(None))
            continue
        match = _DELAY.match(part)
        if match is None:
            raise PolicyError(f"unknown retry delay {part!r} (use e.g. 30m, 2h, next_working_day)")
        amount = int(match.group(1))
        minutes = amount * 60 if match.group(2) == "h" else amount
        if minutes <= 0:
            raise PolicyError(f"retry delay {part!r} must be longer than zero")
        delays.append(Delay(minutes))
    if not delays:
        raise PolicyError("the retry policy lists no delay")
    return delays


def next_attempt_at(
    calendar: LineCalendar, *, failed_attempts: int, failed_at: datetime
) -> datetime:
    """When to try again after `failed_attempts` calls failed, the last one at `failed_at`."""
    try:
        delays = parse_delays(calendar.line.callback_retry_delays)
    except PolicyError:
        delays = parse_delays(DEFAULT_DELAYS)
    delay = delays[min(max(failed_attempts, 1), len(delays)) - 1]
    if delay.is_next_working_day:
        candidate = calendar.next_working_day_start(failed_at)
    else:
        candidate = failed_at + timedelta(minutes=delay.minutes or 0)
    return calendar.next_calling_time(candidate)
