"""The case lifecycle: open or continue, contacts, notes, status changes, escalation (困难上报)
and the auto-close of resolved cases.

Every function flushes and leaves the commit to its entry point (a console view, a webhook
guard, a clock job): the interface functions (`open_or_continue_case`, `record_contact`,
`add_note`, ...) run inside other features' transactions. Every change is written to the audit
trail (`hotline.audit`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callers import service as callers_service
from hotline.callers.models import Caller
from hotline.calls.models import Call, CallDirection, CallOutcome
from hotline.cases.models import (  # noqa: F401  (STATUS_LABELS: part of this module's interface)
    ACTIVE_CASE_STATUSES,
    SCENARIOS,
    STATUS_LABELS,
    Case,
    CaseContact,
    CaseNote,
    CaseNumberCounter,
    CaseOutcome,
    CaseStatus,
    ContactKind,
    WaitingOn,
)
from hotline.errors import CaseIsClosed, InvalidInput, TransitionRefused
from hotline.lines import cache as lines_cache
from hotline.operators.models import Operator
from hotline.timeutil import DEFAULT_TIMEZONE, utcnow

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

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
        line = lines_cache.line_by_id(session, line_id)  # per-process cache (issue 16)
        name = line.timezone if line is not None else None
    if not name and has_app_context():
        name = current_app.config.get("HOTLINE_TIMEZONE")
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def default_region() -> str:
    """The region phone numbers typed without a country code belong to."""
    return (current_app.config.get("DEFAULT_REGION") if has_app_context() else None) or "CN"


def normalise_scenario(scenario: str | None) -> str | None:
    """A scenario code, or None when absent; anything unknown is "other"."""
    if not scenario:
        return None
    scenario = scenario.strip().lower()
    return scenario if scenario in SCENARIOS else "other"


def refuse_if_closed(case: Case) -> None:
    """Raise CaseIsClosed: a closed case is final and read-only."""
    if case.status == CaseStatus.CLOSED:
        raise CaseIsClosed(
            f"工单 {case.number} 已关闭,只能查看。",
            f"Case {case.number} is closed and read-only.",
        )


def touch(case: Case) -> None:
    """Mark the case as active now (the lists sort by it)."""
    case.last_activity_at = utcnow()


def audit_case(
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
            touch(case)
            audit_case(session, case, "continued", before, operator_id=operator_id)
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
    refuse_if_closed(case)
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
    touch(case)
    if (
        case.status == CaseStatus.WAITING
        and case.waiting_on == WaitingOn.CALLER
        and kind in (ContactKind.CALL, ContactKind.VOICEMAIL, ContactKind.SMS_IN)
    ):
        case.status = CaseStatus.IN_PROGRESS
        case.waiting_on = None
    audit_case(
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

    Run by `cases.subscribers.on_call_ended` (CallEnded); runs inside the status
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
    refuse_if_closed(case)
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
    touch(case)
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
    refuse_if_closed(case)
    if scenario not in SCENARIOS:
        raise InvalidInput("请选择一个有效的场景。", "Choose one of the listed scenarios.")
    before = audit.snapshot(case, CASE_FIELDS)
    case.scenario = scenario
    if sub_topic is not None:
        case.sub_topic = sub_topic.strip()[:60]
    touch(case)
    audit_case(session, case, "scenario_set", before, operator_id=operator_id)
    session.flush()
    return case


def update_summary(session: Session, case: Case, *, summary: str, operator_id: int | None) -> Case:
    """Replace the summary (the notes keep the history). Flushes."""
    refuse_if_closed(case)
    summary = (summary or "").strip()
    if len(summary) > MAX_TEXT:
        raise InvalidInput(
            f"摘要最多 {MAX_TEXT} 个字。", f"The summary can have at most {MAX_TEXT} characters."
        )
    before = audit.snapshot(case, CASE_FIELDS)
    case.summary = summary
    touch(case)
    audit_case(session, case, "summary_updated", before, operator_id=operator_id)
    session.flush()
    return case


def set_owner(
    session: Session, case: Case, *, owner_id: int | None, operator_id: int | None
) -> Case:
    """Give the case to an operator (or to nobody). Flushes."""
    refuse_if_closed(case)
    before = audit.snapshot(case, CASE_FIELDS)
    case.owner_id = owner_id
    audit_case(session, case, "owner_set", before, operator_id=operator_id)
    session.flush()
    return case


def set_urgent(session: Session, case: Case, *, is_urgent: bool, operator_id: int | None) -> Case:
    """Mark the case urgent or not. Flushes."""
    refuse_if_closed(case)
    before = audit.snapshot(case, CASE_FIELDS)
    case.is_urgent = bool(is_urgent)
    audit_case(session, case, "urgency_set", before, operator_id=operator_id)
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
    refuse_if_closed(case)
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
    touch(case)
    extra = (
        {"reason": audit.redact("reason", reason)}
        if reason and to != CaseStatus.ESCALATED
        else None
    )
    audit_case(session, case, action, before, operator_id=operator_id, actor=actor, extra=extra)
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
        refuse_if_closed(case)
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
    refuse_if_closed(case)
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
    touch(case)
    audit_case(session, case, "escalation_assigned", before, operator_id=operator_id)
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


def auto_close_resolved(session: Session, now: datetime, *, after: timedelta) -> int:
    """Close cases resolved longer than `after` ago with no follow-up still to come (clock job;
    flushes, the job commits)."""
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
    session.flush()
    return len(cases)
