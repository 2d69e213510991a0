"""The audit trail: every change to a case, a caller profile, a family contact or a referral,
and every export, is one `AuditEntry` row that nothing in the app can update or delete.

Personal values are redacted on the way in (numbers masked, names and free text replaced by
their length): retention and "delete my data" must be able to erase a person completely, and an
append-only trail cannot be erased afterwards. The current value lives on the row itself.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.orm import Session

from hotline.cases.models import AuditEntry, AuditTrailIsAppendOnly  # noqa: F401
from hotline.phone import mask
from hotline.timeutil import utcnow

#: Fields whose values are personal: stored redacted in the trail.
PERSONAL_TEXT_FIELDS = frozenset(
    {
        "name",
        "display_name",
        "notes",
        "summary",
        "text",
        "outcome_note",
        "escalation_reason",
        "restriction_reason",
        "reason",
        "response_text",
        "note",
        "target_name",
        "pause_reason",
        "stop_reason",
        "consent_witness",
    }
)
PERSONAL_NUMBER_FIELDS = frozenset({"phone_number", "target_number", "to_number"})


def plain(value: Any) -> Any:
    """A JSON-friendly form of a column value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def redact(field: str, value: Any) -> Any:
    """The value of `field` as the trail may keep it."""
    value = plain(value)
    if value in (None, ""):
        return value
    if field in PERSONAL_NUMBER_FIELDS:
        return mask(str(value))
    if field in PERSONAL_TEXT_FIELDS:
        return f"<{len(str(value))} chars>"
    return value


def snapshot(obj: Any, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The redacted values of `fields` on `obj`."""
    return {name: redact(name, getattr(obj, name)) for name in fields}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    session: Session,
    *,
    entity: str,
    entity_id: int | None,
    action: str,
    operator_id: int | None,
    actor: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry (values must already be redacted; see `snapshot`). Flushes."""
    entry = AuditEntry(
        occurred_at=utcnow(),
        operator_id=operator_id,
        actor=actor or ("operator" if operator_id is not None else "system"),
        entity=entity,
        entity_id=entity_id,
        action=action,
        before={k: plain(v) for k, v in (before or {}).items()},
        after={k: plain(v) for k, v in (after or {}).items()},
    )
    session.add(entry)
    session.flush()
    return entry
