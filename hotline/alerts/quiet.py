"""Quiet hours: non-urgent alerts about a line wait until the line's quiet hours end.

Urgent alerts (a caller in danger, the clock that sends texts gone silent) always go at once.
The text is still queued right away, with `send_after` at the end of the quiet hours, so it
is never lost and shows in the outbox.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hotline.lines.models import Line
from hotline.sms.models import AlertKind

#: Sent even inside quiet hours.
URGENT_KINDS = frozenset({AlertKind.URGENT_CASE, AlertKind.CLOCK_SILENT})


def held_until(line: Line | None, kind: AlertKind, now: datetime) -> datetime | None:
    """When a `kind` alert about `line` may go out, if later than `now` (None: send now)."""
    if line is None or kind in URGENT_KINDS:
        return None
    start, end = line.quiet_hours_start, line.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(ZoneInfo(line.timezone))
    if not _inside(local.time(), start, end):
        return None
    ends = datetime.combine(local.date(), end, local.tzinfo)
    if ends <= local:
        ends += timedelta(days=1)  # quiet hours across midnight, now before midnight
    return ends.astimezone(now.tzinfo)


def _inside(moment: time, start: time, end: time) -> bool:
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end
