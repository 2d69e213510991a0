"""Case operations: open or continue, contacts, notes, the status lifecycle, escalation (困难上报),
follow-up (回访), referrals, search, the scenario review (个案排查) and the CSV export.

Every function flushes and leaves the commit to its caller: the interface functions
(`open_or_continue_case`, `record_contact`, `add_note`, ...) run inside other features'
transactions (a voice webhook, an SMS, a callback attempt), and a console request commits once
after its action. The exception is scheduling a callback, which goes through
`hotline.callbacks.service.request_callback` and commits (its merge rule needs that).

Every change is written to the audit trail (`hotline.audit`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callers import service as callers_service
from hotline.callers.models import Caller
from hotline.callers.service import (  # noqa: F401  (part of this module's interface)
    consented_family_contacts,
    is_repeat_caller,
)
from hotline.calls.models import Call, CallDirection, CallOutcome
from hotline.cases.models import (
    ACTIVE_CASE_STATUSES,
    OUTCOMES,
    SCENARIOS,
    Case,
    CaseCallback,
    CaseContact,
    CaseNote,
    CaseNumberCounter,
    CaseOutcome,
    CaseStatus,
    ContactKind,
    Referral,
    ReferralStatus,
    ReferralTarget,
    WaitingOn,
)
from hotline.errors import ActionRefused, CaseIsClosed, InvalidInput, TransitionRefused
from hotline.lines.models import Line
from hotline.operators.models import Operator
from hotline.phone import mask, try_normalise
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: An escalation gets a deadline at once, so none can sit unnoticed; the supervisor changes it.
ESCALATION_DEADLINE = timedelta(hours=24)
URGENT_ESCALATION_DEADLINE = timedelta(hours=2)
MAX_TEXT = 5000

#: The case lifecycle: from each status, where it may go. Reopening is RESOLVED -> IN_PROGRESS;
#: a closed case is final and read-only (a new contact opens a new case).
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.WAITING, CaseStatus.ESCALATED, CaseStatus.RESOLVED}
    ),
    CaseStatus.IN_PROGRESS: frozenset(
        {CaseStatus.WAITING, CaseStatus.ESCALATED, CaseStatus.RESOLVED}
    ),
    CaseStatus.WAITING: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED, CaseStatus.RESOLVED}
    ),
    CaseStatus.ESCALATED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.WAITING, CaseStatus.RESOLVED}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}

#: Status names in the console: (中文, English).
STATUS_LABELS: dict[CaseStatus, tuple[str, str]] = {
    CaseStatus.OPEN: ("新建", "Open"),
    CaseStatus.IN_PROGRESS: ("处理中", "In progress"),
    CaseStatus.WAITING: ("等待中", "Waiting"),
    CaseStatus.ESCALATED: ("已上报", "Escalated"),
    CaseStatus.RESOLVED: ("已解决", "Resolved"),
    CaseStatus.CLOSED: ("已关闭", "Closed"),
}

#: Audited fields of a case.
CASE_FIELDS = (
    "status",
    "waiting_on",
    "scenario",
    "sub_topic",
    "summary",
    "owner_id",
    "is_urgent",
    "escalation_reason",
    "escalated_at",
    "escalated_by_id",
    "escalation_assignee_id",
    "escalation_deadline_at",
    "follow_up_at",
    "outcome",
    "outcome_note",
    "resolved_at",
    "closed_at",
    "reopen_count",
)


# --------------------------------------------------------------------------- helpers


def _timezone(session: Session, line_id: int | None) -> ZoneInfo:
    """The line's time zone, else the deployment's."""
    name = None
    if line_id is not None:
        name = session.scalar(select(Line.timezone).where(Line.id == line_id))
    if not name and has_app_context():
        name = current_app.config.get("HOTLINE_TIMEZONE")
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def console_timezone() -> ZoneInfo:
    """The deployment's time zone, used for dates typed into the console."""
    name = current_app.config.get("HOTLINE_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def _region() -> str:
    return (current_app.config.get("DEFAULT_REGION") if has_app_context() else None) or "CN"


def normalise_scenario(scenario: str | None) -> str | None:
    """A scenario code, or None when absent; anything unknown is "other"."""
    if not scenario:
        return None
    scenario = scenario.strip().lower()
    return scenario if scenario in SCENARIOS else "other"


def _refuse_if_closed(case: Case) -> None:
    if case.status == CaseStatus.CLOSED:
        raise CaseIsClosed(
            f"工单 {case.number} 已关闭,只能查看。",
            f"Case {case.number} is closed and read-only.",
        )


def _touch(case: Case) -> None:
    case.last_activity_at = utcnow()


def _audit_case(
    session: Session,
    case: Case,
    action: str,
    before: dict,
    *,
    operator_id: int | None,
    actor: str | None = None,
    extra: dict | None = None,
) -> None:
    """Record what changed on `case` since `before` (a snapshot of CASE_FIELDS)."""
    changed_before, changed_after = audit.changes(before, audit.snapshot(case, CASE_FIELDS))
    if not changed_after and not extra:
        return
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action=action,
        operator_id=operator_id,
        actor=actor,
        before=changed_before,
        after={**changed_after, **(extra or {})},
    )


def get_case(session: Session, number: str, *, for_update: bool = False) -> Case | None:
    """A case by its number; `for_update` locks the row (PostgreSQL) for a status change."""
    statement = select(Case).where(Case.number == number)
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


# --------------------------------------------------------------------------- open or continue


def next_case_number(session: Session, *, now: datetime, tz: ZoneInfo) -> str:
    """The next human-readable number of the local day: "20261129-0042".

    One upsert per number on a per-day counter row: concurrent openers on PostgreSQL queue on
    that row, so two cases can never get the same number, and nothing has to be retried.
    """
    day = now.astimezone(tz).date()
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = (
            insert(CaseNumberCounter)
            .values(day=day, last_number=1)
            .on_conflict_do_update(
                index_elements=[CaseNumberCounter.day],
                set_={"last_number": CaseNumberCounter.last_number + 1},
            )
            .returning(CaseNumberCounter.last_number)
        )
        sequence = session.execute(statement).scalar_one()
    else:  # pragma: no cover - other databases are not supported in production
        counter = session.get(CaseNumberCounter, day, with_for_update=True)
        if counter is None:
            counter = CaseNumberCounter(day=day, last_number=0)
            session.add(counter)
        counter.last_number += 1
        session.flush()
        sequence = counter.last_number
    return f"{day:%Y%m%d}-{sequence:04d}"


def open_case(
    session: Session,
    *,
    caller_id: int | None,
    line_id: int | None,
    channel: str,
    scenario: str | None = None,
    operator_id: int | None = None,
    summary: str = "",
) -> Case:
    """Open a new case with a new number (flushes)."""
    now = utcnow()
    case = Case(
        number=next_case_number(session, now=now, tz=_timezone(session, line_id)),
        caller_id=caller_id,
        line_id=line_id,
        channel=(channel or "call")[:16],
        scenario=normalise_scenario(scenario) or "other",
        status=CaseStatus.OPEN,
        summary=summary[:MAX_TEXT],
        owner_id=operator_id,
        opened_by_id=operator_id,
        last_activity_at=now,
        created_at=now,
    )
    session.add(case)
    session.flush()
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="opened",
        operator_id=operator_id,
        after={
            "number": case.number,
            "caller_id": caller_id,
            "line_id": line_id,
            "channel": case.channel,
            **audit.snapshot(case, ("status", "scenario", "owner_id", "summary")),
        },
    )
    return case


def open_or_continue_case(
    session: Session,
    *,
    caller_id: int | None,
    line_id: int | None,
    channel: str,
    scenario: str | None = None,
    operator_id: int | None = None,
) -> Case:
    """The caller's latest active case (open, in progress, waiting or escalated), else a new one.

    A resolved or closed case is not continued: a new request gets a new number. Profiles
    merged into another continue the survivor's cases. A scenario fills in a case still filed
    under "other"; an operator becomes the owner of a case nobody owns. Flushes, never commits.
    """
    caller_id = callers_service.effective_caller_id(session, caller_id)
    if caller_id is not None:
        # Serialise two contacts of the same person arriving at once (PostgreSQL row lock), so
        # they continue one case instead of opening two.
        session.scalar(select(Caller.id).where(Caller.id == caller_id).with_for_update())
        case = session.scalar(
            select(Case)
            .where(Case.caller_id == caller_id, Case.status.in_(ACTIVE_CASE_STATUSES))
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(1)
        )
        if case is not None:
            before = audit.snapshot(case, CASE_FIELDS)
            scenario = normalise_scenario(scenario)
            if scenario and case.scenario == "other":
                case.scenario = scenario
            if operator_id is not None and case.owner_id is None:
                case.owner_id = operator_id
            if case.line_id is None:
                case.line_id = line_id
            _touch(case)
            _audit_case(session, case, "continued", before, operator_id=operator_id)
            session.flush()
            return case
    return open_case(
        session,
        caller_id=caller_id,
        line_id=line_id,
        channel=channel,
        scenario=scenario,
        operator_id=operator_id,
    )


def record_contact(
    session: Session,
    case: Case,
    *,
    kind: ContactKind | str,
    call_id: int | None = None,
    sms_id: int | None = None,
    callback_id: int | None = None,
    referral_id: int | None = None,
    operator_id: int | None = None,
    note: str = "",
) -> CaseContact:
    """Link one contact (call, voicemail, callback_attempt, sms_in, sms_out, referral) to `case`.

    The same call or text is linked once (a webhook may arrive twice: the existing link is
    returned). A caller getting back to a case that waits on them puts it back in progress.
    Flushes.
    """
    kind = ContactKind(kind)
    _refuse_if_closed(case)
    if call_id is not None or sms_id is not None:
        existing = session.scalar(
            select(CaseContact).where(
                CaseContact.case_id == case.id,
                CaseContact.kind == kind,
                CaseContact.call_id == call_id
                if call_id is not None
                else CaseContact.sms_id == sms_id,
            )
        )
        if existing is not None:
            return existing
    contact = CaseContact(
        case_id=case.id,
        kind=kind,
        call_id=call_id,
        sms_id=sms_id,
        callback_id=callback_id,
        referral_id=referral_id,
        operator_id=operator_id,
        note=(note or "")[:MAX_TEXT],
        occurred_at=utcnow(),
    )
    session.add(contact)
    session.flush()
    before = audit.snapshot(case, CASE_FIELDS)
    _touch(case)
    if (
        case.status == CaseStatus.WAITING
        and case.waiting_on == WaitingOn.CALLER
        and kind in (ContactKind.CALL, ContactKind.VOICEMAIL, ContactKind.SMS_IN)
    ):
        case.status = CaseStatus.IN_PROGRESS
        case.waiting_on = None
    _audit_case(
        session,
        case,
        "contact_added",
        before,
        operator_id=operator_id,
        extra={
            "contact_id": contact.id,
            "kind": kind.value,
            "call_id": call_id,
            "sms_id": sms_id,
            "callback_id": callback_id,
            "referral_id": referral_id,
        },
    )
    session.flush()
    return contact


def case_for_call(session: Session, call: Call, *, operator_id: int | None) -> Case:
    """The case an operator works on for `call` (opened or continued), with the call linked.

    Taking the same call twice lands on the same case. An operator taking it moves a new case,
    or one waiting on the caller, to in progress. Flushes.
    """
    linked = session.scalar(
        select(Case)
        .join(CaseContact, CaseContact.case_id == Case.id)
        .where(CaseContact.call_id == call.id, Case.status != CaseStatus.CLOSED)
        .order_by(Case.id.desc())
        .limit(1)
    )
    case = linked or open_or_continue_case(
        session,
        caller_id=call.caller_id,
        line_id=call.line_id,
        channel="voicemail" if call.outcome == CallOutcome.VOICEMAIL else "call",
        scenario=call.scenario,
        operator_id=operator_id,
    )
    kind = (
        ContactKind.VOICEMAIL
        if call.outcome == CallOutcome.VOICEMAIL or (call.recording_url and not call.answered_at)
        else ContactKind.CALL
    )
    record_contact(session, case, kind=kind, call_id=call.id, operator_id=operator_id)
    if operator_id is not None and case.status in (CaseStatus.OPEN, CaseStatus.WAITING):
        change_status(session, case, CaseStatus.IN_PROGRESS, operator_id=operator_id)
    return case


#: Ended calls that carried a request: they belong to a case even when no operator opened one
#: (a voicemail, a caller who gave up waiting, one who chose a callback). Hang-ups in the menu
#: and short abandons are not requests and open nothing.
CASE_WORTHY_OUTCOMES = (
    CallOutcome.ANSWERED,
    CallOutcome.VOICEMAIL,
    CallOutcome.ABANDONED,
    CallOutcome.CALLBACK_REQUESTED,
    CallOutcome.WAIT_CAP,
)


def link_ended_call(session: Session, call: Call) -> Case | None:
    """Call-ended hook: put an inbound call that carried a request on its caller's case.

    Registered with `hotline.calls.service.add_call_ended_hook`; runs inside the status
    callback's transaction and does not commit. A call already linked (the operator opened the
    case screen from it) is left alone.
    """
    if call.direction != CallDirection.INBOUND or call.outcome not in CASE_WORTHY_OUTCOMES:
        return None
    if call.id is None:
        session.flush()
    if session.scalar(select(CaseContact.id).where(CaseContact.call_id == call.id).limit(1)):
        return None
    is_voicemail = call.outcome == CallOutcome.VOICEMAIL
    case = open_or_continue_case(
        session,
        caller_id=call.caller_id,
        line_id=call.line_id,
        channel="voicemail" if is_voicemail else "call",
        scenario=call.scenario,
    )
    record_contact(
        session,
        case,
        kind=ContactKind.VOICEMAIL if is_voicemail else ContactKind.CALL,
        call_id=call.id,
        note="" if call.outcome == CallOutcome.ANSWERED else call.outcome.value,
    )
    return case


# --------------------------------------------------------------------------- content


def add_note(session: Session, case: Case, *, text: str, operator_id: int | None) -> CaseNote:
    """Add a timestamped note (notes are never edited). Flushes."""
    _refuse_if_closed(case)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("备注不能为空。", "The note is empty.")
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            f"备注最多 {MAX_TEXT} 个字。", f"A note can have at most {MAX_TEXT} characters."
        )
    note = CaseNote(case_id=case.id, operator_id=operator_id, text=text, created_at=utcnow())
    session.add(note)
    session.flush()
    _touch(case)
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="note_added",
        operator_id=operator_id,
        after={"note_id": note.id, "text": audit.redact("text", text)},
    )
    return note


def set_scenario(
    session: Session,
    case: Case,
    *,
    scenario: str,
    sub_topic: str | None = None,
    operator_id: int | None,
) -> Case:
    """File the case under one of the seven scenarios (or other), with an optional sub-topic."""
    _refuse_if_closed(case)
    if scenario not in SCENARIOS:
        raise InvalidInput("请选择一个有效的场景。", "Choose one of the listed scenarios.")
    before = audit.snapshot(case, CASE_FIELDS)
    case.scenario = scenario
    if sub_topic is not None:
        case.sub_topic = sub_topic.strip()[:60]
    _touch(case)
    _audit_case(session, case, "scenario_set", before, operator_id=operator_id)
    session.flush()
    return case


def update_summary(session: Session, case: Case, *, summary: str, operator_id: int | None) -> Case:
    """Replace the summary (the notes keep the history). Flushes."""
    _refuse_if_closed(case)
    summary = (summary or "").strip()
    if len(summary) > MAX_TEXT:
        raise InvalidInput(
            f"摘要最多 {MAX_TEXT} 个字。", f"The summary can have at most {MAX_TEXT} characters."
        )
    before = audit.snapshot(case, CASE_FIELDS)
    case.summary = summary
    _touch(case)
    _audit_case(session, case, "summary_updated", before, operator_id=operator_id)
    session.flush()
    return case


def set_owner(
    session: Session, case: Case, *, owner_id: int | None, operator_id: int | None
) -> Case:
    """Give the case to an operator (or to nobody). Flushes."""
    _refuse_if_closed(case)
    before = audit.snapshot(case, CASE_FIELDS)
    case.owner_id = owner_id
    _audit_case(session, case, "owner_set", before, operator_id=operator_id)
    session.flush()
    return case


def set_urgent(session: Session, case: Case, *, is_urgent: bool, operator_id: int | None) -> Case:
    """Mark the case urgent or not. Flushes."""
    _refuse_if_closed(case)
    before = audit.snapshot(case, CASE_FIELDS)
    case.is_urgent = bool(is_urgent)
    _audit_case(session, case, "urgency_set", before, operator_id=operator_id)
    session.flush()
    return case


# --------------------------------------------------------------------------- lifecycle


def status_label(status: CaseStatus | str) -> tuple[str, str]:
    return STATUS_LABELS[CaseStatus(status)]


def allowed_transitions(case: Case) -> frozenset[CaseStatus]:
    return TRANSITIONS[case.status]


def change_status(
    session: Session,
    case: Case,
    to: CaseStatus | str,
    *,
    operator_id: int | None,
    actor: str | None = None,
    waiting_on: WaitingOn | str | None = None,
    reason: str = "",
    outcome: CaseOutcome | str | None = None,
    is_urgent: bool | None = None,
    note: str = "",
) -> Case:
    """Move the case along its lifecycle (see TRANSITIONS), refusing anything else.

    Waiting needs `waiting_on` (caller or agency); escalating needs a `reason`; resolving needs
    an `outcome` (`note` is kept as the outcome note). Resolved -> in progress is a reopen.
    Every change is audited with before and after. Flushes.
    """
    to = CaseStatus(to)
    _refuse_if_closed(case)
    if to not in TRANSITIONS[case.status]:
        zh_from, en_from = STATUS_LABELS[case.status]
        zh_to, en_to = STATUS_LABELS[to]
        raise TransitionRefused(
            f"工单状态不能从「{zh_from}」改为「{zh_to}」。",
            f'A case cannot go from "{en_from}" to "{en_to}".',
        )
    # Check everything first, so a refused change leaves the case untouched.
    new_waiting_on = None
    new_outcome = None
    if to == CaseStatus.WAITING:
        try:
            new_waiting_on = WaitingOn(waiting_on)
        except ValueError as exc:
            raise InvalidInput(
                "请说明在等谁:来电人还是机构。",
                "Say who the case waits on: the caller or an agency.",
            ) from exc
    reason = (reason or "").strip()
    if to == CaseStatus.ESCALATED and not reason:
        raise InvalidInput("上报需要写明原因。", "An escalation needs a reason.")
    if to == CaseStatus.RESOLVED:
        try:
            new_outcome = CaseOutcome(outcome)
        except ValueError as exc:
            raise InvalidInput(
                "解决工单需要选择处理结果。", "Choose an outcome to resolve the case."
            ) from exc
    if (
        to == CaseStatus.CLOSED
        and case.follow_up_at is not None
        and case.follow_up_requested_at is None
    ):
        raise TransitionRefused(
            "这个工单还有待做的回访,回访之后才能关闭。",
            "This case has a follow-up still to come; close it after the follow-up.",
        )

    now = utcnow()
    before = audit.snapshot(case, CASE_FIELDS)
    action = "status_changed"
    case.waiting_on = new_waiting_on
    if to == CaseStatus.ESCALATED:
        if is_urgent is not None:
            case.is_urgent = bool(is_urgent)
        case.escalation_reason = reason[:MAX_TEXT]
        case.escalated_at = now
        case.escalated_by_id = operator_id
        case.escalation_assignee_id = None
        case.escalation_deadline_at = now + (
            URGENT_ESCALATION_DEADLINE if case.is_urgent else ESCALATION_DEADLINE
        )
        case.escalation_overdue_alerted_at = None
        action = "escalated"
    if to == CaseStatus.RESOLVED:
        case.outcome = new_outcome
        case.outcome_note = (note or "").strip()[:MAX_TEXT]
        case.resolved_at = now
        action = "resolved"
    if case.status == CaseStatus.RESOLVED and to == CaseStatus.IN_PROGRESS:
        case.outcome = None
        case.outcome_note = ""
        case.resolved_at = None
        case.reopen_count += 1
        action = "reopened"
    if to == CaseStatus.CLOSED:
        case.closed_at = now
        action = "closed"
    case.status = to
    _touch(case)
    extra = (
        {"reason": audit.redact("reason", reason)}
        if reason and to != CaseStatus.ESCALATED
        else None
    )
    _audit_case(session, case, action, before, operator_id=operator_id, actor=actor, extra=extra)
    session.flush()
    return case


def escalate(
    session: Session, case: Case, *, reason: str, operator_id: int | None, is_urgent: bool = False
) -> Case:
    """困难上报: hand the case to the supervisors with a reason (and a default deadline)."""
    return change_status(
        session,
        case,
        CaseStatus.ESCALATED,
        operator_id=operator_id,
        reason=reason,
        is_urgent=is_urgent or case.is_urgent,
    )


def resolve(
    session: Session,
    case: Case,
    *,
    outcome: CaseOutcome | str,
    note: str = "",
    operator_id: int | None,
) -> Case:
    """Resolve with an outcome code (and an optional note)."""
    return change_status(
        session, case, CaseStatus.RESOLVED, operator_id=operator_id, outcome=outcome, note=note
    )


def reopen(session: Session, case: Case, *, operator_id: int | None, reason: str = "") -> Case:
    """Reopen a resolved case (a closed one stays closed)."""
    if case.status != CaseStatus.RESOLVED:
        _refuse_if_closed(case)
        raise TransitionRefused(
            "只有已解决的工单可以重新打开。", "Only a resolved case can be reopened."
        )
    return change_status(
        session, case, CaseStatus.IN_PROGRESS, operator_id=operator_id, reason=reason
    )


def close(
    session: Session, case: Case, *, operator_id: int | None, actor: str | None = None
) -> Case:
    """Close a resolved case for good (read-only from then on)."""
    return change_status(session, case, CaseStatus.CLOSED, operator_id=operator_id, actor=actor)


def assign_escalation(
    session: Session,
    case: Case,
    *,
    assignee_id: int | None,
    deadline_at: datetime | None,
    operator_id: int | None,
) -> Case:
    """A supervisor assigns an escalation to someone and sets its deadline. Flushes."""
    _refuse_if_closed(case)
    if case.status != CaseStatus.ESCALATED:
        raise TransitionRefused("这个工单不在上报状态。", "This case is not escalated.")
    if deadline_at is not None and deadline_at <= utcnow():
        raise InvalidInput("期限必须在将来。", "The deadline must be in the future.")
    if assignee_id is not None:
        assignee = session.get(Operator, assignee_id)
        if assignee is None or not assignee.is_active:
            raise InvalidInput("找不到这位处理人。", "That person cannot be assigned.")
    before = audit.snapshot(case, CASE_FIELDS)
    case.escalation_assignee_id = assignee_id
    if deadline_at is not None and deadline_at != case.escalation_deadline_at:
        case.escalation_deadline_at = deadline_at
        case.escalation_overdue_alerted_at = None
    _touch(case)
    _audit_case(session, case, "escalation_assigned", before, operator_id=operator_id)
    session.flush()
    return case


def overdue_escalations(session: Session, now: datetime) -> list[Case]:
    """Escalated cases past their deadline, most overdue first (for the SMS alerts).

    The SMS feature sets `Case.escalation_overdue_alerted_at` (see `mark_overdue_alerted`) once
    it told a supervisor; a new deadline clears it.
    """
    return list(
        session.scalars(
            select(Case)
            .where(
                Case.status == CaseStatus.ESCALATED,
                Case.escalation_deadline_at.is_not(None),
                Case.escalation_deadline_at <= now,
            )
            .order_by(Case.escalation_deadline_at, Case.id)
        )
    )


def mark_overdue_alerted(session: Session, case: Case, now: datetime) -> None:
    """Remember that the supervisors were alerted about this overdue escalation. Flushes."""
    case.escalation_overdue_alerted_at = now
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="overdue_alerted",
        operator_id=None,
        actor="system:alerts",
        after={"escalation_overdue_alerted_at": now},
    )


# --------------------------------------------------------------------------- referrals


def add_referral_hook(app: Flask, hook: Callable[[Session, Referral], None]) -> None:
    """Call `hook(session, referral)` whenever a case is referred (it must not commit).

    The SMS feature registers one from its blueprint module's `init_app(app)` to text the
    volunteer; `pending_referrals` lists the ones still waiting for an answer, and
    `record_referral_response` stores the answer.
    """
    hooks = app.extensions.setdefault("hotline.referral_hooks", [])
    if hook not in hooks:
        hooks.append(hook)


def refer_case(
    session: Session,
    case: Case,
    *,
    target_kind: ReferralTarget | str,
    target_name: str,
    reason: str,
    operator_id: int | None,
    target_number: str | None = None,
) -> Referral:
    """Refer the case to an agency or a community volunteer: who, why and when. Flushes.

    A volunteer needs a phone number (they are told by SMS). The hooks registered with
    `add_referral_hook` run in the same transaction.
    """
    _refuse_if_closed(case)
    try:
        target_kind = ReferralTarget(target_kind)
    except ValueError as exc:
        raise InvalidInput(
            "请选择转介给机构还是志愿者。", "Choose an agency or a volunteer."
        ) from exc
    target_name = (target_name or "").strip()
    reason = (reason or "").strip()
    if not target_name:
        raise InvalidInput("请填写转介对象的名称。", "Please name who the case goes to.")
    if not reason:
        raise InvalidInput("请写明转介原因。", "Please say why the case is referred.")
    number = None
    if target_number and target_number.strip():
        number = try_normalise(target_number, _region())
        if number is None or number.startswith(("client:", "sip:")):
            raise InvalidInput("转介对象的电话号码无效。", "That phone number is not valid.")
    if target_kind == ReferralTarget.VOLUNTEER and number is None:
        raise InvalidInput(
            "转介给志愿者需要填写志愿者的手机号码。",
            "A referral to a volunteer needs the volunteer's phone number.",
        )
    referral = Referral(
        case_id=case.id,
        target_kind=target_kind,
        target_name=target_name[:120],
        target_number=number,
        reason=reason[:MAX_TEXT],
        referred_at=utcnow(),
        referred_by_id=operator_id,
        status=ReferralStatus.PENDING,
    )
    session.add(referral)
    session.flush()
    audit.record(
        session,
        entity="referral",
        entity_id=referral.id,
        action="created",
        operator_id=operator_id,
        after={
            "case_id": case.id,
            **audit.snapshot(
                referral, ("target_kind", "target_name", "target_number", "reason", "status")
            ),
        },
    )
    record_contact(
        session, case, kind=ContactKind.REFERRAL, referral_id=referral.id, operator_id=operator_id
    )
    if has_app_context():
        for hook in current_app.extensions.get("hotline.referral_hooks", []):
            hook(session, referral)
    log.info("case %s referred to a %s (%s)", case.number, target_kind.value, mask(number))
    return referral


def pending_referrals(session: Session) -> list[Referral]:
    """Referrals still waiting for an answer, oldest first."""
    return list(
        session.scalars(
            select(Referral)
            .where(Referral.status == ReferralStatus.PENDING)
            .order_by(Referral.referred_at, Referral.id)
        )
    )


def record_referral_response(
    session: Session,
    referral: Referral,
    *,
    is_accepted: bool,
    response_text: str = "",
    operator_id: int | None = None,
    actor: str | None = None,
) -> Referral:
    """Store the agency's or volunteer's answer (e.g. their SMS reply). Flushes.

    Answering twice the same way changes nothing; changing an answer is refused.
    """
    status = ReferralStatus.ACCEPTED if is_accepted else ReferralStatus.DECLINED
    if referral.status == status:
        return referral
    if referral.status != ReferralStatus.PENDING:
        raise ActionRefused("这个转介已经有答复了。", "This referral has already been answered.")
    before = audit.snapshot(referral, ("status", "response_text"))
    referral.status = status
    referral.response_text = (response_text or "").strip()[:MAX_TEXT]
    referral.responded_at = utcnow()
    audit.record(
        session,
        entity="referral",
        entity_id=referral.id,
        action="answered",
        operator_id=operator_id,
        actor=actor or ("operator" if operator_id else f"{referral.target_kind.value}"),
        before=before,
        after=audit.snapshot(referral, ("status", "response_text")),
    )
    case = session.get(Case, referral.case_id)
    if case is not None:
        case.last_activity_at = utcnow()
    session.flush()
    return referral


# --------------------------------------------------------------------------- callbacks


def _callback_target(session: Session, case: Case) -> tuple[Caller, int]:
    caller = session.get(Caller, case.caller_id) if case.caller_id else None
    if (
        caller is None
        or caller.anonymised_at is not None
        or not caller.phone_number.startswith("+")
    ):
        raise ActionRefused("这个工单没有可以回拨的号码。", "This case has no number to call back.")
    line_id = case.line_id or session.scalar(
        select(Line.id).where(Line.is_active).order_by(Line.id).limit(1)
    )
    if line_id is None:
        raise ActionRefused("没有可用的热线号码。", "No line is configured to call from.")
    return caller, line_id


def schedule_callback(
    session: Session,
    case: Case,
    *,
    due_at: datetime,
    operator_id: int | None,
    note: str = "",
    reason: CallbackReason = CallbackReason.OPERATOR,
) -> CallbackRequest:
    """ "Call back at ...": a callback request for the case's caller at `due_at`.

    Goes through `request_callback` (which moves the time into the line's calling window,
    merges with a callback already owed to the same number, and commits); then links it to the
    case and audits (flushed, the caller commits).
    """
    from hotline.callbacks.service import request_callback

    _refuse_if_closed(case)
    now = utcnow()
    if due_at < now - timedelta(minutes=1):
        raise InvalidInput("回电时间不能是过去的时间。", "The callback time cannot be in the past.")
    caller, line_id = _callback_target(session, case)
    callback = request_callback(
        session,
        line_id=line_id,
        phone_number=caller.phone_number,
        reason=reason,
        original_arrival_at=now,
        due_at=due_at,
        caller_id=caller.id,
        case_id=case.id,
        requested_by_operator_id=operator_id,
        language=caller.language,
        note=f"{case.number}" + (f" {note.strip()}" if note and note.strip() else ""),
    )
    purpose = "follow_up" if reason == CallbackReason.FOLLOW_UP else "operator"
    link = session.scalar(
        select(CaseCallback).where(
            CaseCallback.case_id == case.id, CaseCallback.callback_id == callback.id
        )
    )
    if link is None:
        session.add(CaseCallback(case_id=case.id, callback_id=callback.id, purpose=purpose))
    _touch(case)
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="callback_scheduled",
        operator_id=operator_id,
        actor=None if operator_id else "system:follow_up",
        after={"callback_id": callback.id, "due_at": due_at, "purpose": purpose},
    )
    return callback


def set_follow_up(
    session: Session, case: Case, *, follow_up_at: datetime | None, operator_id: int | None
) -> Case:
    """回访: set (or clear) the follow-up date. On that local date the clock creates the
    follow-up callback (see `request_due_follow_ups`), so a follow-up weeks away never merges
    into, and disappears with, a callback owed today. Flushes."""
    _refuse_if_closed(case)
    if follow_up_at is not None and follow_up_at <= utcnow():
        raise InvalidInput("回访时间必须在将来。", "The follow-up must be in the future.")
    before = audit.snapshot(case, CASE_FIELDS)
    case.follow_up_at = follow_up_at
    case.follow_up_requested_at = None
    _touch(case)
    _audit_case(session, case, "follow_up_set", before, operator_id=operator_id)
    session.flush()
    return case


def request_due_follow_ups(session: Session, now: datetime, *, limit: int = 200) -> int:
    """Create the follow-up callbacks whose local date has come (clock job). Commits per case.

    Each case is claimed with a conditional UPDATE before its callback is requested, in the
    same transaction, so two clock processes never create the same follow-up twice.
    """
    tz = console_timezone()
    end_of_today = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz)
    candidates = session.scalars(
        select(Case.id)
        .where(
            Case.follow_up_at.is_not(None),
            Case.follow_up_at < end_of_today,
            Case.follow_up_requested_at.is_(None),
            Case.status != CaseStatus.CLOSED,
        )
        .order_by(Case.follow_up_at)
        .limit(limit)
    ).all()
    done = 0
    for case_id in candidates:
        claimed = session.execute(
            update(Case)
            .where(Case.id == case_id, Case.follow_up_requested_at.is_(None))
            .values(follow_up_requested_at=now),
            execution_options={"synchronize_session": False},
        ).rowcount
        if claimed != 1:
            session.rollback()
            continue
        case = session.get(Case, case_id)
        session.refresh(case)
        try:
            schedule_callback(
                session,
                case,
                due_at=max(case.follow_up_at, now),
                operator_id=None,
                note="回访 follow-up",
                reason=CallbackReason.FOLLOW_UP,
            )
            session.commit()
            done += 1
        except ActionRefused as exc:
            session.rollback()
            log.warning("follow-up of case %s not scheduled: %s", case_id, exc.en)
            # Keep the claim so the sweep does not retry a case that cannot be called back.
            session.execute(
                update(Case).where(Case.id == case_id).values(follow_up_requested_at=now)
            )
            session.commit()
    return done


def case_for_callback(session: Session, callback_id: int) -> Case | None:
    """The case a callback was scheduled from (None: not scheduled from a case)."""
    return session.scalar(
        select(Case)
        .join(CaseCallback, CaseCallback.case_id == Case.id)
        .where(CaseCallback.callback_id == callback_id)
        .order_by(CaseCallback.id.desc())
        .limit(1)
    )


def auto_close_resolved(session: Session, now: datetime, *, after: timedelta) -> int:
    """Close cases resolved longer than `after` ago with no follow-up still to come (clock)."""
    cases = session.scalars(
        select(Case)
        .where(
            Case.status == CaseStatus.RESOLVED,
            Case.resolved_at <= now - after,
            or_(Case.follow_up_at.is_(None), Case.follow_up_requested_at.is_not(None)),
        )
        .limit(500)
    ).all()
    for case in cases:
        close(session, case, operator_id=None, actor="system:auto_close")
    session.commit()
    return len(cases)


# --------------------------------------------------------------------------- search


CASE_NUMBER_RE = re.compile(r"^\d{8}-\d{1,6}$")


@dataclass
class CaseFilters:
    """What the case list filters by; every field optional."""

    q: str = ""
    scenario: str = ""
    status: str = ""
    operator_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    is_overdue: bool = False
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """The filters as the audit trail may keep them (a number or name redacted)."""
        q = self.q.strip()
        if q and not CASE_NUMBER_RE.match(q):
            q = (
                mask(try_normalise(q, _region()) or "")
                if callers_service.looks_like_number(q)
                else (audit.redact("name", q))
            )
        return {
            "q": q,
            "scenario": self.scenario,
            "status": self.status,
            "operator_id": self.operator_id,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }


def local_day_bounds(
    day_from: date | None, day_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """UTC bounds of local days [day_from 00:00, day_to + 1 00:00)."""
    tz = console_timezone()
    start = datetime.combine(day_from, time(0), tz) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time(0), tz) if day_to else None
    return start, end


def search_cases(session: Session, filters: CaseFilters, *, now: datetime | None = None) -> Select:
    """A SELECT of cases matching `filters`, most recent activity first.

    `q` is a case number, a phone number in any format (138 0013 8000, +86 138 0013 8000,
    0086 138 0013 8000, or four digits or more of it) or part of a name.
    """
    statement = select(Case)
    q = (filters.q or "").strip()
    if q:
        if CASE_NUMBER_RE.match(q):
            statement = statement.where(Case.number == q)
        else:
            ids: list[int] = []
            for caller in callers_service.find_callers(session, q, region=_region(), limit=200):
                ids.extend(callers_service.caller_group_ids(session, caller.id))
            statement = statement.where(Case.caller_id.in_(ids or [-1]))
    if filters.scenario:
        statement = statement.where(Case.scenario == filters.scenario)
    if filters.status:
        statement = statement.where(Case.status == CaseStatus(filters.status))
    if filters.operator_id:
        statement = statement.where(Case.owner_id == filters.operator_id)
    start, end = local_day_bounds(filters.date_from, filters.date_to)
    if start is not None:
        statement = statement.where(Case.created_at >= start)
    if end is not None:
        statement = statement.where(Case.created_at < end)
    if filters.is_overdue:
        statement = statement.where(
            Case.status == CaseStatus.ESCALATED, Case.escalation_deadline_at <= (now or utcnow())
        )
    return statement.order_by(Case.last_activity_at.desc(), Case.id.desc())


# --------------------------------------------------------------------------- review (个案排查)


@dataclass
class ScenarioReview:
    """Cases of one scenario over a period."""

    scenario: str
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    #: sub-topic -> {"total", "active", "resolved", "escalated"}
    sub_topics: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Open difficulties: cases of this scenario escalated now (whenever they were opened).
    open_escalations: list[Case] = field(default_factory=list)
    #: For "other": the period's cases, for a supervisor to file under a scenario.
    cases_to_file: list[Case] = field(default_factory=list)


def scenario_review(session: Session, day_from: date, day_to: date) -> list[ScenarioReview]:
    """Cases per scenario and sub-topic opened in [day_from, day_to] (local days), each with the
    currently open escalations of that scenario."""
    start, end = local_day_bounds(day_from, day_to)
    rows = session.execute(
        select(Case.scenario, Case.sub_topic, Case.status, func.count())
        .where(Case.created_at >= start, Case.created_at < end)
        .group_by(Case.scenario, Case.sub_topic, Case.status)
    ).all()
    reviews = {code: ScenarioReview(scenario=code) for code in SCENARIOS}
    for scenario, sub_topic, status, count in rows:
        review = reviews.setdefault(scenario, ScenarioReview(scenario=scenario))
        status = CaseStatus(status)
        review.total += count
        review.by_status[status.value] = review.by_status.get(status.value, 0) + count
        bucket = review.sub_topics.setdefault(
            sub_topic or "", {"total": 0, "active": 0, "resolved": 0, "escalated": 0}
        )
        bucket["total"] += count
        if status in ACTIVE_CASE_STATUSES:
            bucket["active"] += count
        if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            bucket["resolved"] += count
        if status == CaseStatus.ESCALATED:
            bucket["escalated"] += count
    escalations = session.scalars(
        select(Case)
        .where(Case.status == CaseStatus.ESCALATED)
        .order_by(Case.escalation_deadline_at, Case.id)
    ).all()
    for case in escalations:
        reviews.setdefault(case.scenario, ScenarioReview(scenario=case.scenario))
        reviews[case.scenario].open_escalations.append(case)
    reviews["other"].cases_to_file = list(
        session.scalars(
            select(Case)
            .where(Case.scenario == "other", Case.created_at >= start, Case.created_at < end)
            .order_by(Case.created_at.desc())
            .limit(100)
        )
    )
    return list(reviews.values())


# --------------------------------------------------------------------------- CSV export

#: Columns everyone may export: nothing that identifies the caller.
EXPORT_COLUMNS = (
    "case_number",
    "created_at",
    "channel",
    "scenario",
    "sub_topic",
    "status",
    "waiting_on",
    "outcome",
    "is_urgent",
    "escalated_at",
    "escalation_deadline_at",
    "owner",
    "contacts",
    "last_activity_at",
    "resolved_at",
)
#: Columns only supervisors export.
PERSONAL_EXPORT_COLUMNS = (
    "caller_name",
    "caller_phone",
    "caller_district",
    "caller_age_band",
    "summary",
    "escalation_reason",
    "outcome_note",
)
MAX_EXPORT_ROWS = 20000


def export_columns(*, is_personal: bool) -> tuple[str, ...]:
    return EXPORT_COLUMNS + (PERSONAL_EXPORT_COLUMNS if is_personal else ())


def _csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (a leading = + - @ is quoted with ')."""
    text = "" if value is None else str(value)
    if re.fullmatch(r"\+\d{6,15}", text):
        return text  # a phone number, not a formula
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def export_cases_csv(
    session: Session, filters: CaseFilters, *, is_personal: bool, operator_id: int | None
) -> tuple[str, int]:
    """The filtered cases as CSV (UTF-8 with BOM for spreadsheet programs); personal columns
    only when `is_personal` (supervisors). The export is recorded in the audit trail. Flushes.
    """
    tz = console_timezone()
    cases = session.scalars(search_cases(session, filters).limit(MAX_EXPORT_ROWS)).all()
    case_ids = [c.id for c in cases]
    counts = dict(
        session.execute(
            select(CaseContact.case_id, func.count())
            .where(CaseContact.case_id.in_(case_ids or [-1]))
            .group_by(CaseContact.case_id)
        ).all()
    )
    owners = dict(session.execute(select(Operator.id, Operator.display_name)).all())
    caller_ids = {c.caller_id for c in cases if c.caller_id}
    callers = {
        c.id: c for c in session.scalars(select(Caller).where(Caller.id.in_(caller_ids or [-1])))
    }

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    columns = export_columns(is_personal=is_personal)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for case in cases:
        row = {
            "case_number": case.number,
            "created_at": when(case.created_at),
            "channel": case.channel,
            "scenario": case.scenario,
            "sub_topic": case.sub_topic,
            "status": case.status.value,
            "waiting_on": case.waiting_on.value if case.waiting_on else "",
            "outcome": case.outcome.value if case.outcome else "",
            "is_urgent": "yes" if case.is_urgent else "no",
            "escalated_at": when(case.escalated_at),
            "escalation_deadline_at": when(case.escalation_deadline_at),
            "owner": owners.get(case.owner_id, "") if case.owner_id else "",
            "contacts": counts.get(case.id, 0),
            "last_activity_at": when(case.last_activity_at),
            "resolved_at": when(case.resolved_at),
        }
        if is_personal:
            caller = callers.get(case.caller_id)
            row.update(
                {
                    "caller_name": caller.name or caller.display_name if caller else "",
                    "caller_phone": caller.phone_number if caller else "",
                    "caller_district": caller.district if caller else "",
                    "caller_age_band": caller.age_band.value if caller and caller.age_band else "",
                    "summary": case.summary,
                    "escalation_reason": case.escalation_reason,
                    "outcome_note": case.outcome_note,
                }
            )
        writer.writerow([_csv_safe(row[c]) for c in columns])
    audit.record(
        session,
        entity="export",
        entity_id=None,
        action="csv_export",
        operator_id=operator_id,
        after={
            "filters": filters.describe(),
            "rows": len(cases),
            "is_personal": is_personal,
            "columns": list(columns),
        },
    )
    return "\ufeff" + buffer.getvalue(), len(cases)


# --------------------------------------------------------------------------- the case screen


def case_history(session: Session, case: Case) -> list[dict]:
    """Contacts and notes of a case in time order, for the case screen."""
    items: list[dict] = []
    for note in session.scalars(select(CaseNote).where(CaseNote.case_id == case.id)):
        items.append({"at": note.created_at, "type": "note", "note": note})
    contacts = session.scalars(select(CaseContact).where(CaseContact.case_id == case.id)).all()
    calls = {
        c.id: c
        for c in session.scalars(
            select(Call).where(Call.id.in_([x.call_id for x in contacts if x.call_id] or [-1]))
        )
    }
    referrals = {
        r.id: r for r in session.scalars(select(Referral).where(Referral.case_id == case.id))
    }
    from hotline.sms.models import SmsMessage

    texts = {
        m.id: m
        for m in session.scalars(
            select(SmsMessage).where(
                SmsMessage.id.in_([x.sms_id for x in contacts if x.sms_id] or [-1])
            )
        )
    }
    for contact in contacts:
        items.append(
            {
                "at": contact.occurred_at,
                "type": "contact",
                "contact": contact,
                "call": calls.get(contact.call_id),
                "referral": referrals.get(contact.referral_id),
                "sms": texts.get(contact.sms_id),
            }
        )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items


def case_operator_ids(session: Session, case: Case) -> set[int]:
    """Every operator who handled the case (owner, contacts, notes, escalation)."""
    ids = {case.owner_id, case.opened_by_id, case.escalated_by_id, case.escalation_assignee_id}
    ids.update(
        session.scalars(select(CaseContact.operator_id).where(CaseContact.case_id == case.id))
    )
    ids.update(session.scalars(select(CaseNote.operator_id).where(CaseNote.case_id == case.id)))
    return {i for i in ids if i is not None}


def earlier_cases(session: Session, case: Case, *, limit: int = 10) -> list[Case]:
    """The caller's other cases, newest first."""
    if case.caller_id is None:
        return []
    group = callers_service.caller_group_ids(session, case.caller_id)
    return list(
        session.scalars(
            select(Case)
            .where(Case.caller_id.in_(group), Case.id != case.id)
            .order_by(Case.created_at.desc())
            .limit(limit)
        )
    )


def latest_notes(session: Session, case_ids: list[int], *, per_case: int = 2) -> dict[int, list]:
    """The newest notes of each case (earlier cases "at a glance")."""
    notes: dict[int, list[CaseNote]] = defaultdict(list)
    for note in session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id.in_(case_ids or [-1]))
        .order_by(CaseNote.created_at.desc())
    ):
        if len(notes[note.case_id]) < per_case:
            notes[note.case_id].append(note)
    return notes


def outcome_label(code: str) -> tuple[str, str]:
    return OUTCOMES[CaseOutcome(code)]
