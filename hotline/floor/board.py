"""The supervisors' live board: each operator's state, since when, why, and the caller they are
with (that caller's wait and talk time). The read model behind GET /console/floor/api/board.

Reading it runs the presence's lazy checks first (hotline.operators.presence.sweep): overdue
wrap-ups end at their deadline and closed consoles go offline, so the board never shows a
wrap-up that is over. A fixed number of queries whatever the number of operators: operators,
live queue entries, their callers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from hotline.callers.models import Caller
from hotline.i18n import t
from hotline.operators import presence
from hotline.operators.models import Operator, Presence
from hotline.phone import mask
from hotline.queue import service
from hotline.queue.board import language_label
from hotline.queue.models import QueueEntry, QueueStatus
from hotline.timeutil import as_utc

#: The board's order of states (who needs attention first): on a call, wrap-up, available,
#: away, offline.
STATE_ORDER = {
    Presence.BUSY: 0,
    Presence.WRAP_UP: 1,
    Presence.AVAILABLE: 2,
    Presence.AWAY: 3,
    Presence.OFFLINE: 4,
}


def _seconds(later: datetime, earlier: datetime | None) -> int | None:
    return max(0, int((later - as_utc(earlier)).total_seconds())) if earlier else None


def _caller_json(entry: QueueEntry, caller: Caller | None, now: datetime, *, joining: bool):
    """The caller an operator is with, as the board shows them."""
    answered = as_utc(entry.connected_at)
    return {
        "entry_id": entry.id,
        "name": (caller.display_name or caller.name) if caller else "",
        "number": mask(caller.phone_number) if caller else "",
        "language": entry.language,
        "language_label": language_label(entry.language),
        "state": entry.status.value,
        "is_on_hold": entry.is_on_hold,
        "is_transfer": joining,
        # The wait: from joining the queue until answered (still running while connecting).
        "waited_seconds": _seconds(answered or now, entry.enqueued_at),
        "talk_seconds": _seconds(now, answered) if answered else None,
    }


def board_state(session, now: datetime) -> dict:
    """Every active operator with their state and current caller (no commit; the lazy presence
    checks flush, and the view commits)."""
    presence.sweep(session, now=now)
    operators = session.scalars(
        select(Operator).where(Operator.is_active).order_by(Operator.display_name, Operator.id)
    ).all()
    live = session.scalars(
        select(QueueEntry).where(
            QueueEntry.status.in_((QueueStatus.CONNECTING, QueueStatus.CONNECTED)),
            or_(QueueEntry.operator_id.is_not(None), QueueEntry.transfer_operator_id.is_not(None)),
        )
    ).all()
    caller_ids = {e.caller_id for e in live if e.caller_id}
    callers = (
        {c.id: c for c in session.scalars(select(Caller).where(Caller.id.in_(caller_ids)))}
        if caller_ids
        else {}
    )
    with_caller: dict[int, dict] = {}
    for entry in sorted(live, key=lambda e: e.id):
        caller = callers.get(entry.caller_id) if entry.caller_id else None
        if entry.operator_id is not None:
            with_caller[entry.operator_id] = _caller_json(entry, caller, now, joining=False)
        if entry.transfer_operator_id is not None:
            with_caller[entry.transfer_operator_id] = _caller_json(entry, caller, now, joining=True)
    rows = []
    for op in operators:
        since = as_utc(op.presence_changed_at)
        until = as_utc(op.wrap_up_until)
        rows.append(
            {
                "id": op.id,
                "name": op.display_name or op.username,
                "role": op.role.value,
                "presence": op.presence.value,
                "presence_label": t(*presence.PRESENCE_LABELS[op.presence]),
                "state_order": STATE_ORDER[op.presence],
                "since": since.isoformat() if since else None,
                "since_seconds": _seconds(now, since),
                "reason": op.away_reason.value if op.away_reason else None,
                "reason_label": (
                    t(*presence.AWAY_REASON_LABELS[op.away_reason]) if op.away_reason else ""
                ),
                "wrap_up_seconds_left": (
                    max(0, int((until - now).total_seconds()))
                    if until is not None and op.presence == Presence.WRAP_UP
                    else None
                ),
                "languages_label": " / ".join(language_label(code) for code in op.languages or [])
                or t("所有语言", "any language"),
                "is_reachable": presence.is_reachable(op),
                "caller": with_caller.get(op.id),
            }
        )
    return {"now": now.isoformat(), "operators": rows, "stats": service.live_snapshot(session)}
