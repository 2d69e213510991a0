"""Cases: every request for help, followed to its end, with its contacts, notes, referrals and
an append-only audit trail."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import DDL, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.callers.models import FamilyContact  # noqa: F401  (part of this package's API)
from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow

#: The policy's seven scenarios (State Council General Office 2020 No. 45) plus "other", which
#: a supervisor reviews: code -> (中文, English).
SCENARIOS: dict[str, tuple[str, str]] = {
    "emergency": ("紧急情况", "Emergencies"),
    "travel": ("日常出行", "Daily transport"),
    "medical": ("就医", "Seeing a doctor"),
    "consumption": ("消费支付", "Shopping and payments"),
    "culture": ("文体活动", "Culture and sports"),
    "affairs": ("办事服务", "Public services"),
    "smart_devices": ("智能产品使用", "Using smart products"),
    "other": ("其他", "Other"),
}

#: Suggested sub-topics per scenario (free text is allowed; these keep the review tidy).
SUB_TOPICS: dict[str, tuple[str, ...]] = {
    "emergency": ("健康码", "居家求助", "出入场所"),
    "travel": ("电话叫车", "窗口购票", "公交卡"),
    "medical": ("电话预约挂号", "人工窗口", "家庭医生"),
    "consumption": ("现金支付", "银行卡", "退款", "诈骗"),
    "culture": ("场馆预约", "老年活动"),
    "affairs": ("养老金认证", "社保", "代办"),
    "smart_devices": ("手机功能", "使用培训", "防诈骗提醒"),
    "other": (),
}


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"  # on the caller or on an agency (`Case.waiting_on`)
    ESCALATED = "escalated"  # 困难上报: with a supervisor
    RESOLVED = "resolved"  # with an outcome code; may be reopened
    CLOSED = "closed"  # final and read-only


#: Statuses in which a case is still being worked (a new contact continues it).
ACTIVE_CASE_STATUSES = (
    CaseStatus.OPEN,
    CaseStatus.IN_PROGRESS,
    CaseStatus.WAITING,
    CaseStatus.ESCALATED,
)


class WaitingOn(enum.StrEnum):
    CALLER = "caller"
    AGENCY = "agency"


class CaseOutcome(enum.StrEnum):
    """How a case was resolved."""

    ANSWERED = "answered"  # question answered, caller informed
    HANDLED_ON_BEHALF = "handled_on_behalf"  # we did it for them (booked, registered ...)
    REFERRED = "referred"  # an agency or a community volunteer took it over
    UNRESOLVABLE = "unresolvable"  # nothing could be done; the reason is in the note
    NO_CONTACT = "no_contact"  # the caller could not be reached again
    WITHDRAWN = "withdrawn"  # no longer needed
    DUPLICATE = "duplicate"  # the same request as another case
    OTHER = "other"


#: Outcome codes in the console: code -> (中文, English).
OUTCOMES: dict[str, tuple[str, str]] = {
    CaseOutcome.ANSWERED: ("已解答", "Answered"),
    CaseOutcome.HANDLED_ON_BEHALF: ("已代办", "Handled on their behalf"),
    CaseOutcome.REFERRED: ("已转介", "Referred"),
    CaseOutcome.UNRESOLVABLE: ("无法解决", "Could not be solved"),
    CaseOutcome.NO_CONTACT: ("联系不上", "Could not reach the caller"),
    CaseOutcome.WITHDRAWN: ("不再需要", "No longer needed"),
    CaseOutcome.DUPLICATE: ("重复工单", "Duplicate"),
    CaseOutcome.OTHER: ("其他", "Other"),
}


class Case(Base):
    """One request for help from one caller."""

    __tablename__ = "cases"
    __table_args__ = (
        # The caller's latest active case (open_or_continue_case) and their history.
        Index("ix_cases_caller_status", "caller_id", "status"),
        # Escalations list and the overdue sweep.
        Index("ix_cases_status_deadline", "status", "escalation_deadline_at"),
        Index("ix_cases_created_at", "created_at"),
    )

    id: Mapped[intpk]
    #: Human-readable case number read out to callers and put first in SMS ("20261129-0042").
    number: Mapped[str] = mapped_column(String(20), unique=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    #: How the request first reached us: call, voicemail, callback, sms, operator.
    channel: Mapped[str] = mapped_column(String(16), default="call")
    #: One of the seven policy scenarios, or "other" (reviewed by a supervisor).
    scenario: Mapped[str] = mapped_column(String(32), default="other")
    #: Sub-topic in words ("电话预约挂号"); grouped on the scenario review.
    sub_topic: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[CaseStatus] = enum_column(CaseStatus, default=CaseStatus.OPEN)
    #: While waiting: on the caller or on an agency.
    waiting_on: Mapped[WaitingOn | None] = enum_column(WaitingOn, nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: Operator who opened the case (None: opened by the system, e.g. from a voicemail).
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: Urgent: shown first and with a short escalation deadline.
    is_urgent: Mapped[bool] = mapped_column(default=False)
    #: 困难上报: why it was escalated, by whom and when.
    escalation_reason: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[datetime | None]
    escalated_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: Who handles the escalation (assigned by a supervisor).
    escalation_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: The escalation must be dealt with by then; after it, it is overdue (and alerted).
    escalation_deadline_at: Mapped[datetime | None]
    #: Set by the SMS alerts once the supervisor was told that the escalation is overdue.
    escalation_overdue_alerted_at: Mapped[datetime | None]
    #: 回访: a follow-up callback is due then.
    follow_up_at: Mapped[datetime | None]
    #: When the clock created the follow-up callback (None while it is still to come).
    follow_up_requested_at: Mapped[datetime | None]
    outcome: Mapped[CaseOutcome | None] = enum_column(CaseOutcome, nullable=True)
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    #: Last contact, note or change: the case list is sorted by it.
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_closed(self) -> bool:
        return self.status == CaseStatus.CLOSED

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_CASE_STATUSES

    def is_overdue(self, now: datetime) -> bool:
        """An escalation past its deadline."""
        return (
            self.status == CaseStatus.ESCALATED
            and self.escalation_deadline_at is not None
            and self.escalation_deadline_at <= now
        )


class CaseNumberCounter(Base):
    """The last case number handed out per local day (an upsert makes numbers unique)."""

    __tablename__ = "case_number_counters"

    day: Mapped[date] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class ContactKind(enum.StrEnum):
    CALL = "call"
    VOICEMAIL = "voicemail"
    CALLBACK_ATTEMPT = "callback_attempt"
    SMS_IN = "sms_in"
    SMS_OUT = "sms_out"
    REFERRAL = "referral"


class CaseContact(Base):
    """One contact that belongs to a case: a call, a voicemail, a callback attempt, a text."""

    __tablename__ = "case_contacts"
    __table_args__ = (
        # A webhook may arrive twice: the same call/text/callback is linked to a case once.
        UniqueConstraint("case_id", "kind", "call_id", name="uq_case_contacts_call"),
        UniqueConstraint("case_id", "kind", "sms_id", name="uq_case_contacts_sms"),
        Index("ix_case_contacts_case_at", "case_id", "occurred_at"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[ContactKind] = enum_column(ContactKind)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id"), index=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    #: The operator who handled it (None: nobody, e.g. a voicemail or an automatic text).
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseNote(Base):
    """A timestamped note on a case (notes are added, never edited)."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case_at", "case_id", "created_at"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]


class CaseCallback(Base):
    """A callback scheduled from a case ("call back at ..." or a follow-up, 回访)."""

    __tablename__ = "case_callbacks"
    __table_args__ = (UniqueConstraint("case_id", "callback_id", name="uq_case_callbacks_pair"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    #: "operator" (call back at ...) or "follow_up" (回访).
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[created_at]


class ReferralTarget(enum.StrEnum):
    AGENCY = "agency"
    VOLUNTEER = "volunteer"  # 邻里守望: a community volunteer


class ReferralStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Referral(Base):
    """A case handed to an agency or a community volunteer: who, why, when, and their answer.

    The SMS to a volunteer is sent by the SMS feature (see `hotline.cases.events.CaseReferred`).
    """

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_status", "status", "referred_at"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    target_kind: Mapped[ReferralTarget] = enum_column(ReferralTarget)
    #: Agency or volunteer name ("街道民政科", "张志愿者").
    target_name: Mapped[str] = mapped_column(String(120))
    #: E.164 number to reach them (a volunteer needs one: they are told by SMS).
    target_number: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    referred_at: Mapped[datetime] = mapped_column(default=utcnow)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    status: Mapped[ReferralStatus] = enum_column(ReferralStatus, default=ReferralStatus.PENDING)
    response_text: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None]
    #: The text that told the volunteer (set by the SMS feature).
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id"))


class AuditEntry(Base):
    """One change: who, when, which entity, what, before and after. Append-only.

    Nothing updates or deletes these rows: `hotline.audit` refuses it in the session, and
    the table carries triggers that refuse it in the database. Personal values (names, numbers,
    free text) are stored redacted, because retention must be able to erase a person while the
    trail itself can never be edited.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_id", "occurred_at"),)

    id: Mapped[intpk]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: The operator who did it (None for the system, the caller, a family member).
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: Who, in words: "operator", "system:retention", "caller", "family_contact:12".
    actor: Mapped[str] = mapped_column(String(80), default="operator")
    #: What was changed: "case", "caller", "family_contact", "referral", "export".
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    #: What happened: "opened", "status", "escalated", "note_added", "csv_export" ...
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)


# Defence in depth: the database itself refuses to change the trail (TRUNCATE in tests is not a
# row change and still works). The initial migration must carry the same statements.
_SQLITE_AUDIT_TRIGGERS = [
    DDL(
        f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END"
    )
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_AUDIT_TRIGGER = [
    DDL(
        "CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END; $$ LANGUAGE plpgsql"
    ),
    DDL(
        "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
    ),
]
for _ddl in _SQLITE_AUDIT_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", _ddl.execute_if(dialect="sqlite"))
for _ddl in _POSTGRES_AUDIT_TRIGGER:
    event.listen(AuditEntry.__table__, "after_create", _ddl.execute_if(dialect="postgresql"))


class AuditTrailIsAppendOnly(RuntimeError):
    """Something tried to change or delete an audit entry."""


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_the_trail(session: Session, _flush_context, _instances) -> None:
    """No update or delete of an audit entry ever reaches the database."""
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AuditTrailIsAppendOnly("audit entries cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise AuditTrailIsAppendOnly("audit entries cannot be changed")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes_to_the_trail(state) -> None:
    """Nor does a bulk UPDATE or DELETE statement run through a session."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is AuditEntry.__table__ or AuditEntry.__mapper__ in state.all_mappers:
        raise AuditTrailIsAppendOnly("audit entries cannot be changed or deleted")


#: Status names in the console: (中文, English).
STATUS_LABELS: dict[CaseStatus, tuple[str, str]] = {
    CaseStatus.OPEN: ("新建", "Open"),
    CaseStatus.IN_PROGRESS: ("处理中", "In progress"),
    CaseStatus.WAITING: ("等待中", "Waiting"),
    CaseStatus.ESCALATED: ("已上报", "Escalated"),
    CaseStatus.RESOLVED: ("已解决", "Resolved"),
    CaseStatus.CLOSED: ("已关闭", "Closed"),
}
