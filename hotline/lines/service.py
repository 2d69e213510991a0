"""Finding the line a call or a text is for (one rule for voice and SMS)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.audit import changes
from hotline.lines import cache
from hotline.lines.models import CalendarOverride, Line, LineRecipient
from hotline.lines.settings import AUDITED
from hotline.operators.models import Operator
from hotline.phone import mask, try_normalise

log = logging.getLogger(__name__)


class NoLineConfigured(LookupError):
    """No active line exists: the deployment has not been set up (`flask seed-demo`, admin)."""


def find_line(session: Session, to_number: str, region: str) -> Line:
    """The line whose number was dialled or texted.

    A number we do not know still reaches the first active line (a caller must never be
    dropped because a Twilio number was added before its line); that is logged. Raises
    NoLineConfigured when no line is active at all.
    """
    number = try_normalise(to_number, region)
    line = cache.active_line(session, number)  # the per-process cache (hotline.lines.cache)
    if line is not None and line.phone_number != number and to_number:
        log.warning("contact to unknown number %s served by line %s", mask(to_number), line.key)
    if line is None:
        raise NoLineConfigured("no active line is configured")
    return line


def save_line(
    session: Session,
    line: Line | None,
    values: dict[str, Any],
    *,
    operator_id: int | None,
    actor: str | None = None,
) -> Line:
    """Create `line` (None) or change it with values from `settings.validate_line`, and audit
    who changed what, before and after. Flushes; the entry point commits. Takes effect on the
    next call: the flush bumps the settings counter that every process's line cache checks
    (hotline.lines.cache)."""
    is_new = line is None
    if line is None:
        line = Line(key=values["key"])
        session.add(line)
        before: dict[str, Any] = {}
    else:
        before = _line_snapshot(line)
    for name, value in values.items():
        setattr(line, name, value)
    session.flush()
    old, new = changes(before, _line_snapshot(line))
    if is_new or new:
        audit.record(
            session,
            entity="line",
            entity_id=line.id,
            action="created" if is_new else "updated",
            operator_id=operator_id,
            actor=actor,
            before=old,
            after=new,
        )
        log.info(
            "line %s %s by %s", line.key, "created" if is_new else "changed", actor or operator_id
        )
    return line


def _line_snapshot(line: Line) -> dict[str, Any]:
    # Lines are not personal data: their names and numbers are kept in the trail as they are.
    return {name: audit.plain(getattr(line, name)) for name in AUDITED}


def add_override(
    session: Session,
    *,
    line: Line | None,
    day: date,
    is_working_day: bool,
    note: str,
    operator_id: int | None,
    actor: str | None = None,
) -> CalendarOverride:
    """Add (or replace) a local calendar exception for `line` (None: every line), audited.
    Flushes."""
    existing = session.scalar(
        select(CalendarOverride).where(
            CalendarOverride.day == day,
            CalendarOverride.line_id.is_(None)
            if line is None
            else CalendarOverride.line_id == line.id,
        )
    )
    before = _override_snapshot(existing) if existing is not None else {}
    row = existing or CalendarOverride(line_id=line.id if line is not None else None, day=day)
    row.is_working_day = is_working_day
    row.note = note.strip()
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity="calendar_override",
        entity_id=row.id,
        action="updated" if existing is not None else "created",
        operator_id=operator_id,
        actor=actor,
        before=before,
        after=_override_snapshot(row),
    )
    log.info("calendar override %s for %s: %s", day, line.key if line else "all lines", row.note)
    return row


def remove_override(
    session: Session, row: CalendarOverride, *, operator_id: int | None, actor: str | None = None
) -> None:
    """Remove a local calendar exception, audited. Flushes."""
    audit.record(
        session,
        entity="calendar_override",
        entity_id=row.id,
        action="deleted",
        operator_id=operator_id,
        actor=actor,
        before=_override_snapshot(row),
        after={},
    )
    session.delete(row)
    session.flush()


def _override_snapshot(row: CalendarOverride) -> dict[str, Any]:
    return {
        "line_id": row.line_id,
        "day": row.day.isoformat(),
        "is_working_day": row.is_working_day,
        "note": row.note,
    }


def set_recipients(
    session: Session,
    line: Line,
    wanted: dict[int, tuple[bool, set[str]]],
    *,
    operator_id: int | None,
    actor: str | None = None,
) -> None:
    """Make `wanted` ({operator id: (gets the daily summary, alert kinds)}) the people told
    about `line`, audited. Flushes."""
    rows = {
        r.operator_id: r
        for r in session.scalars(select(LineRecipient).where(LineRecipient.line_id == line.id))
    }
    before = {str(op): _recipient_text(r.gets_daily_summary, r.kinds) for op, r in rows.items()}
    for op_id, row in rows.items():
        if op_id not in wanted:
            session.delete(row)
    for op_id, (summary, kinds) in wanted.items():
        row = rows.get(op_id) or LineRecipient(line_id=line.id, operator_id=op_id)
        row.gets_daily_summary = summary
        row.alert_kinds = ",".join(sorted(kinds))
        session.add(row)
    session.flush()
    after = {str(op): _recipient_text(s, k) for op, (s, k) in wanted.items()}
    old, new = changes(before, after)
    removed = {k: v for k, v in before.items() if k not in after}
    if new or removed:
        audit.record(
            session,
            entity="line_recipients",
            entity_id=line.id,
            action="updated",
            operator_id=operator_id,
            actor=actor,
            before={**old, **removed},
            after={**new, **{k: None for k in removed}},
        )


def set_recipient_phones(
    session: Session,
    phones: dict[int, str | None],
    *,
    operator_id: int | None,
    actor: str | None = None,
) -> None:
    """Set the phones staff texts go to ({operator id: E.164 or None}), audited (masked).
    Flushes."""
    for op_id, number in phones.items():
        person = session.get(Operator, op_id)
        if person is None or person.phone_number == number:
            continue
        before = audit.snapshot(person, ["phone_number"])
        person.phone_number = number
        audit.record(
            session,
            entity="operator",
            entity_id=op_id,
            action="phone_changed",
            operator_id=operator_id,
            actor=actor,
            before=before,
            after=audit.snapshot(person, ["phone_number"]),
        )
    session.flush()


def _recipient_text(summary: bool, kinds: set[str]) -> str:
    return ",".join((["daily_summary"] if summary else []) + sorted(kinds))
