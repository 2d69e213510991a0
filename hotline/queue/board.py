"""The live queue as the console shows it: the read model behind GET /console/api/queue.

Pure reading (no commit beyond the operator's presence heartbeat, which the view commits):
entries with their labels, the operator's current call, the counts. URLs come from the view
(`case_url`), so this module builds none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.db import db
from hotline.i18n import t
from hotline.lines import cache as lines_cache
from hotline.lines.models import Line
from hotline.operators import presence
from hotline.operators.models import Operator, Presence
from hotline.operators.presence import AWAY_REASON_LABELS, PRESENCE_LABELS
from hotline.phone import mask
from hotline.queue import connect, routing, service
from hotline.queue.models import QueueEntry, QueueStatus
from hotline.timeutil import as_utc, utcnow

#: Rows the live queue shows (the counts above it include everyone).
MAX_ROWS = 200

#: Builds the case screen's URL for a call's CallSid (None when the cases pages are absent).
CaseUrl = Callable[[str], "str | None"]


PRIORITY_LABELS = {
    service.Priority.URGENT: ("紧急", "Urgent"),
    service.Priority.CALLBACK: ("回电", "Callback"),
    service.Priority.OLDER: ("长者", "Older caller"),
    service.Priority.NORMAL: ("普通", "Normal"),
}
PRIORITY_REASON_LABELS = {
    "emergency": ("选择了紧急求助", "chose emergency help"),
    "callback": ("我们回电后接通", "answered our callback"),
    "older_caller": ("登记的长者来电", "registered older caller"),
    "normal": ("", ""),
}
REASON_LABELS = {
    "key_0": ("要人工服务", "asked for a person"),
    "chosen": ("菜单选择", "menu choice"),
    "silence_twice": ("两次没有按键", "silent twice"),
    "invalid_twice": ("两次按错", "wrong key twice"),
    "loop_cap": ("在菜单里绕圈", "went round the menus"),
    "straight_to_person": ("直接转人工", "straight to a person"),
    "callback": ("回电", "callback"),
    "emergency": ("说了紧急求助的话", "said emergency words"),
}
LANGUAGE_LABELS = {
    "zh-CN": ("普通话", "Mandarin"),
    "yue-HK": ("粤语", "Cantonese"),
    "en-US": ("英语", "English"),
}
SCENARIO_LABELS = {
    "emergency": ("紧急情况", "Emergency"),
    "travel": ("出行", "Travel"),
    "medical": ("就医", "Medical"),
    "consumption": ("缴费购物", "Payments"),
    "culture": ("文体活动", "Culture"),
    "affairs": ("办事", "Public services"),
    "smart_devices": ("智能设备", "Smart devices"),
    "other": ("其他", "Other"),
}
KEYS_ONLY = re.compile(r"^[0-9*#\s]*$")


def _label(table: dict, key, default: str = "") -> str:
    pair = table.get(key)
    return t(*pair) if pair else default


def language_label(code: str) -> str:
    """普通话 / 粤语 / English, or a local dialect's own name as the centre wrote it."""
    return _label(LANGUAGE_LABELS, code, code)


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return t(f"等了 {seconds} 秒", f"waiting {seconds} s")
    return t(f"等了 {seconds // 60} 分钟", f"waiting {seconds // 60} min")


def offer_label(offer: routing.Offer | None) -> str:
    """Why a caller is offered to this operator, in one line: "粤语 · 等了 2 分钟"; a caller
    offered past the line's threshold says nobody speaking their language took them."""
    if offer is None:
        return ""
    words = f"{language_label(offer.language)} · {_wait_words(offer.waited_seconds)}"
    if offer.reason == routing.OVERFLOW:
        words += t(" · 没有会这种语言的坐席接听", " · no operator speaking it took the call")
    return words


def skills_json(operator: Operator) -> dict:
    """The operator's languages and lines in words ("every line" when none are set)."""
    skills = connect.skills_of(operator)
    lines = (
        [
            line.name
            for line in db.session.scalars(
                select(Line).where(Line.id.in_(sorted(skills.line_ids))).order_by(Line.name)
            )
        ]
        if skills.line_ids
        else []
    )
    return {
        "languages": sorted(skills.languages),
        "languages_label": " / ".join(language_label(code) for code in sorted(skills.languages))
        or t("所有语言", "any language"),
        "lines_label": "、".join(lines) if lines else t("所有线路", "every line"),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _said(call: Call | None) -> str:
    """The last thing the caller said in the menus (keys are not interesting here)."""
    for step in reversed((call.menu_path or []) if call else []):
        heard = step.get("input") if isinstance(step, dict) else None
        if isinstance(heard, str) and heard and not KEYS_ONLY.match(heard):
            return heard[:200]
    return ""


def proxy_for(call: Call | None) -> str:
    """The elder a consented family contact called about, as they were greeted ("王阿姨"),
    from the call's first menu step (hotline.ivr.engine.begin records it); "" otherwise."""
    first = (call.menu_path or [None])[0] if call else None
    elder = first.get("proxy_for") if isinstance(first, dict) else None
    return elder[:60] if isinstance(elder, str) else ""


def family_label(elder: str) -> str:
    """How the console shows a family proxy: "家属代办 · 王阿姨" / "family of 王阿姨"."""
    return t(f"家属代办 · {elder}", f"family of {elder}") if elder else ""


def _earlier_cases(caller_ids: set[int]) -> dict[int, int]:
    """How many cases each caller already has."""
    if not caller_ids:
        return {}
    from hotline.cases.models import Case

    rows = db.session.execute(
        select(Case.caller_id, func.count())
        .where(Case.caller_id.in_(caller_ids))
        .group_by(Case.caller_id)
    )
    return {caller_id: count for caller_id, count in rows}


def _operator_name(operator_id: int | None) -> str:
    if operator_id is None:
        return ""
    operator = db.session.get(Operator, operator_id)
    return (operator.display_name or operator.username) if operator else ""


def entry_json(
    entry: QueueEntry,
    *,
    now: datetime,
    position: int | None = None,
    cases: dict[int, int] | None = None,
    full_number: bool = False,
    repeat_callers: set[int] | None = None,
) -> dict:
    """One caller as the console shows them (plain data; the page writes it as text)."""
    caller = db.session.get(Caller, entry.caller_id) if entry.caller_id else None
    call = db.session.get(Call, entry.call_id)
    line = lines_cache.line_by_id(db.session, entry.line_id)
    number = caller.phone_number if caller else (call.from_number if call else "")
    name = (caller.display_name or caller.name) if caller else ""
    return {
        "id": entry.id,
        "position": position,
        "status": entry.status.value,
        "waited_seconds": max(0, int((now - entry.enqueued_at).total_seconds())),
        "arrived_at": _iso(entry.arrived_at),
        "line": line.name if line else "",
        "language": entry.language,
        "language_label": language_label(entry.language),
        "priority": entry.priority,
        "priority_label": _label(PRIORITY_LABELS, entry.priority),
        "priority_reason": entry.priority_reason,
        "priority_reason_label": _label(PRIORITY_REASON_LABELS, entry.priority_reason),
        "reason_label": _label(REASON_LABELS, entry.reason, entry.reason),
        "scenario_label": _label(SCENARIO_LABELS, entry.scenario) if entry.scenario else "",
        "caller_name": name,
        "caller_number": number if full_number else mask(number),
        "is_older_caller": bool(caller and caller.is_older_caller),
        "is_hard_of_hearing": bool(caller and caller.is_hard_of_hearing),
        "earlier_cases": (cases or {}).get(entry.caller_id, 0) if entry.caller_id else 0,
        "is_repeat_caller": bool(entry.caller_id and entry.caller_id in (repeat_callers or set())),
        "said": _said(call),
        "family_of": family_label(proxy_for(call)),
        "preferred_operator": _operator_name(entry.preferred_operator_id),
        "requeue_count": entry.requeue_count,
    }


def _repeat_callers(caller_ids: set[int], now: datetime) -> set[int]:
    """Callers who rang often lately (the cases feature's rule), in one query."""
    if not caller_ids:
        return set()
    from hotline.callers.service import repeat_caller_ids

    return repeat_caller_ids(db.session, caller_ids, now)


def _case_url(entry: QueueEntry, case_url: CaseUrl) -> str | None:
    """The case screen for this entry's call, from the view's URL builder."""
    call = db.session.get(Call, entry.call_id)
    return case_url(call.call_sid) if call is not None else None


def _current_json(entry: QueueEntry, operator_id: int, now: datetime, case_url: CaseUrl) -> dict:
    caller_ids = {entry.caller_id} if entry.caller_id else set()
    data = entry_json(
        entry,
        now=now,
        cases=_earlier_cases(caller_ids),
        full_number=True,
        repeat_callers=_repeat_callers(caller_ids, now),
    )
    data["case_url"] = _case_url(entry, case_url)
    is_target = entry.transfer_operator_id == operator_id
    data.update(
        state=entry.status.value,
        is_on_hold=entry.is_on_hold,
        is_transfer_target=is_target,
        operator=_operator_name(entry.operator_id),
        connected_seconds=int((now - entry.connected_at).total_seconds())
        if entry.connected_at
        else 0,
        transfer=(
            {
                "operator": _operator_name(entry.transfer_operator_id),
                "joined": entry.is_transfer_joined,
            }
            if entry.transfer_operator_id is not None
            else None
        ),
    )
    return data


def _seconds_left(operator: Operator, now: datetime) -> int | None:
    """Seconds until the operator's wrap-up ends by itself (None: no deadline)."""
    until = as_utc(operator.wrap_up_until)
    return max(0, int((until - now).total_seconds())) if until is not None else None


def console_state(operator_id: int, *, case_url: CaseUrl) -> dict:
    """Everything the queue console shows, for one operator."""
    session = db.session
    me = presence.heartbeat(session, operator_id)
    assert me is not None
    now = utcnow()
    # Only the callers on the operator's lines (no lines set: every line).
    skills = connect.skills_of(me)
    waiting = service.waiting_entries(session, limit=MAX_ROWS, line_ids=skills.line_ids)
    offers = {entry.id: offer for entry, offer in connect.routed(session, skills, waiting, now)}
    next_id: int | None = None
    # Load every caller, call and line of the page in three queries (entry_json then finds them
    # in the session instead of asking the database once per row, every second, for every
    # operator). The lists are kept until the rows are built: the session only holds weak
    # references, so objects nobody refers to would be gone again by the time they are needed.
    caller_ids = {e.caller_id for e in waiting if e.caller_id}
    page_callers = (
        list(session.scalars(select(Caller).where(Caller.id.in_(caller_ids)))) if caller_ids else []
    )
    page_calls = (
        list(session.scalars(select(Call).where(Call.id.in_([e.call_id for e in waiting]))))
        if waiting
        else []
    )
    page_lines = [lines_cache.line_by_id(session, i) for i in {e.line_id for e in waiting}]
    cases = _earlier_cases(caller_ids)
    repeat_callers = _repeat_callers(caller_ids, now)
    positions: dict[int, int] = {}
    rows = []
    for entry in waiting:
        positions[entry.line_id] = positions.get(entry.line_id, 0) + 1
        data = entry_json(
            entry,
            now=now,
            position=positions[entry.line_id],
            cases=cases,
            repeat_callers=repeat_callers,
        )
        data["is_reserved_for_other"] = connect.is_reserved_for_someone_else(
            session, entry, operator_id, now
        )
        # Why "take the next caller" offers this caller to this operator (routing), and which
        # row it takes; a row without a reason can still be picked by hand.
        offer = offers.get(entry.id)
        data["offer_reason"] = offer.reason if offer is not None else None
        data["offer_label"] = offer_label(offer)
        if next_id is None and offer is not None and not data["is_reserved_for_other"]:
            next_id = entry.id
        data["is_next_for_me"] = entry.id == next_id
        rows.append(data)
    del page_callers, page_calls, page_lines
    current = connect.active_entry(session, operator_id)
    wrap_up = None
    if me.presence == Presence.WRAP_UP:
        last = session.scalar(
            select(QueueEntry)
            .where(
                QueueEntry.operator_id == operator_id, QueueEntry.status == QueueStatus.COMPLETED
            )
            .order_by(QueueEntry.ended_at.desc())
            .limit(1)
        )
        wrap_up = {"caller_name": "", "ended_at": None, "seconds_left": _seconds_left(me, now)}
        if last is not None:
            done = entry_json(last, now=now)
            wrap_up = {
                **wrap_up,
                "caller_name": done["caller_name"],
                "ended_at": _iso(last.ended_at),
                "entry_id": last.id,
                "case_url": _case_url(last, case_url),
            }
    colleagues = [
        {"id": op.id, "name": op.display_name or op.username}
        for op in session.scalars(
            select(Operator)
            .where(
                Operator.id != operator_id,
                Operator.is_active,
                Operator.presence == Presence.AVAILABLE,
                Operator.phone_number.is_not(None),
            )
            .order_by(Operator.display_name)
        )
        if presence.is_reachable(op)
    ]
    return {
        "now": now.isoformat(),
        "me": {
            "id": me.id,
            "presence": me.presence.value,
            "presence_label": _label(PRESENCE_LABELS, me.presence),
            "away_reason": me.away_reason.value if me.away_reason else None,
            "away_reason_label": (
                _label(AWAY_REASON_LABELS, me.away_reason) if me.away_reason else ""
            ),
            "has_phone": bool(me.phone_number),
            **skills_json(me),
        },
        "waiting": rows,
        "current": (
            _current_json(current, operator_id, now, case_url) if current is not None else None
        ),
        "wrap_up": wrap_up,
        "transfer_to": colleagues,
        "stats": service.live_snapshot(session),
    }


# --------------------------------------------------------------------------- pages
