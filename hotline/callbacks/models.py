"""Callback requests: every promise "we will call you back" is one row, the only source of truth.

A request (`CallbackRequest`) lives from the promise to its end (done, failed, canceled); each
call placed for it is a `CallbackAttempt`. Dispatchers share one `OutboundPacing` row per Twilio
account to keep to the account's call rate and to count ringing callbacks atomically.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class CallbackReason(enum.StrEnum):
    VIRTUAL_HOLD = "virtual_hold"  # chose to be called back instead of waiting
    ABANDONED = "abandoned"  # hung up after waiting a while
    VOICEMAIL = "voicemail"  # left a message (closed hours, wait cap, fallback)
    OPERATOR = "operator"  # an operator scheduled it
    FOLLOW_UP = "follow_up"  # 回访 on a case
    SMS = "sms"  # asked for it by text
    CHECK_IN = "check_in"  # regular check-in call to an elder living alone
    FAMILY = "family"  # asked for by a consented family contact, for their elder


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its due time (and the calling window)
    DIALING = "dialing"  # claimed by a dispatcher; the call is being placed or is ringing
    CONNECTED = "connected"  # a person answered and was put in the operator queue
    FAILED = "failed"  # every attempt failed; the caller, supervisors (and family) were told
    CANCELED = "canceled"  # an operator canceled it, with a reason
    DONE = "done"  # the caller was reached (or reached us themselves)
    #: Never dialled: the number policy refused it (foreign, premium-rate, satellite ...); the
    #: reason is in `refusal_reason` and supervisors see it on the callbacks page.
    REFUSED = "refused"


#: Statuses in which a callback is still a live promise (one per number and line, and one
#: held beside it; see `CallbackRequest.held_reason`).
ACTIVE_STATUSES = (CallbackStatus.PENDING, CallbackStatus.DIALING)
#: The partial unique indexes' conditions (the migrations write the same text).
ACTIVE_NOT_HELD = "status IN ('pending', 'dialing') AND held_reason IS NULL"
ACTIVE_HELD = "status IN ('pending', 'dialing') AND held_reason IS NOT NULL"


class AttemptOutcome(enum.StrEnum):
    """How one callback call ended."""

    PERSON = "person"  # a person answered and joined the operator queue
    MACHINE = "machine"  # an answering machine: a short message with our number was left
    FAX = "fax"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"  # the network could not connect the call
    CANCELED = "canceled"
    #: Answered, but we never learned by whom (our answer webhook failed): treated as a miss,
    #: because the caller then heard the fallback, not a person.
    NOT_CONFIRMED = "not_confirmed"
    #: Twilio refused to place the call (an invalid or unreachable number).
    REJECTED = "rejected"

    @property
    def is_success(self) -> bool:
        return self is AttemptOutcome.PERSON


class CallbackRequest(Base):
    """A callback owed to a caller."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        # The dispatcher's sweep: due pending rows, oldest promise first.
        Index("ix_callback_requests_sweep", "status", "due_at"),
        # The claim walks the live promises in their order and stops at the batch size, instead
        # of reading and sorting every due row (a seq scan and a sort of 100,000 rows).
        Index(
            "ix_callback_requests_claim_order",
            "original_arrival_at",
            "id",
            sqlite_where=text("status IN ('pending', 'dialing')"),
            postgresql_where=text("status IN ('pending', 'dialing')"),
        ),
        # The check-ins' own claim (their elder's window, every line): the few live check-in
        # rows in promise order, not a scan of every pending callback (measured: a sequential
        # scan of 100,000 pending rows on PostgreSQL on every sweep without it).
        Index(
            "ix_callback_requests_own_schedule_claim",
            "original_arrival_at",
            "id",
            sqlite_where=text("status IN ('pending', 'dialing') AND reason = 'check_in'"),
            postgresql_where=text("status IN ('pending', 'dialing') AND reason = 'check_in'"),
        ),
        # Calls placed to a number today (daily call cap), and the SMS allowlist's lookup.
        Index("ix_callback_requests_phone_number", "phone_number"),
        # One active callback per number and line; a new request merges into it. A held
        # person's callback (`held_reason`) waits beside the check-in call that goes first,
        # so it has its own index: at most one of those per number and line as well.
        Index(
            "uq_callback_requests_active_number",
            "line_id",
            "phone_number",
            unique=True,
            sqlite_where=text(ACTIVE_NOT_HELD),
            postgresql_where=text(ACTIVE_NOT_HELD),
        ),
        Index(
            "uq_callback_requests_held_number",
            "line_id",
            "phone_number",
            unique=True,
            sqlite_where=text(ACTIVE_HELD),
            postgresql_where=text(ACTIVE_HELD),
        ),
    )

    id: Mapped[intpk]
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    #: The case this callback belongs to (the first one named; merged requests keep it).
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    #: E.164 number to call.
    phone_number: Mapped[str] = mapped_column(String(64))
    reason: Mapped[CallbackReason] = enum_column(CallbackReason)
    status: Mapped[CallbackStatus] = enum_column(CallbackStatus, default=CallbackStatus.PENDING)
    #: When the caller first reached us; callbacks are ordered by it so nobody loses their place.
    original_arrival_at: Mapped[datetime]
    #: Not before this time; always inside the line's calling window when written.
    due_at: Mapped[datetime]
    #: Calls placed (or being placed) so far; the current attempt has this number.
    attempts: Mapped[int] = mapped_column(default=0)
    #: Copied from the line's policy when the request is made.
    max_attempts: Mapped[int] = mapped_column(default=3)
    #: A dispatcher owns the row until this time; after it, another may take it over.
    lease_expires_at: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(80))
    #: Outcome of the latest attempt (an AttemptOutcome value) or what an operator did.
    last_outcome: Mapped[str | None] = mapped_column(String(80))
    last_attempt_at: Mapped[datetime | None]
    #: The call that caused the request (the abandoned or voicemail call).
    origin_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    #: The outbound call of the current attempt.
    attempt_call_sid: Mapped[str | None] = mapped_column(String(64))
    #: Operator who scheduled it (and should take it, when named).
    requested_by_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    language: Mapped[str | None] = mapped_column(String(16))
    #: Why, in words, including merged requests ("abandoned after 45 s; then voicemail").
    note: Mapped[str] = mapped_column(Text, default="")
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    #: Why the number policy refused to dial (status refused), in words for supervisors.
    refusal_reason: Mapped[str | None] = mapped_column(String(200))
    #: Why this person's callback was held instead of sharing one call with the elder's
    #: check-in (the line was closed: the check-in call goes out in the elder's own window,
    #: this one when the line opens and no other call to the person is under way). Kept as
    #: the record once the hold is over.
    held_reason: Mapped[str | None] = mapped_column(String(200))
    #: Operator who canceled it.
    canceled_by_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]


class CallbackAttempt(Base):
    """One call placed for a callback request (its record on the case, too).

    The unique (callback, number) pair is the last line of defence against a double call: two
    dispatchers can never both start attempt N of the same request.
    """

    __tablename__ = "callback_attempts"
    __table_args__ = (
        UniqueConstraint("callback_id", "number"),
        # The daily call caps count the calls placed since the start of the local day.
        Index("ix_callback_attempts_placed_at", "placed_at"),
    )

    id: Mapped[intpk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    #: 1 for the first call of the request, 2 for the first retry, ...
    number: Mapped[int]
    #: The dispatcher (clock process) that claimed it last, and when it first was claimed.
    claimed_by: Mapped[str] = mapped_column(String(80))
    claimed_at: Mapped[datetime]
    #: How many times it was claimed: more than 1 after a dispatcher died holding it.
    claims: Mapped[int] = mapped_column(default=1)
    #: Twilio's CallSid once the call exists (learned from the REST answer or a status callback).
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    placed_at: Mapped[datetime | None]
    #: The latest Twilio call status seen (queued ... completed, busy, no-answer, ...).
    call_status: Mapped[str | None] = mapped_column(String(20))
    #: Answering-machine detection: human, unknown, machine_start, fax, ...
    answered_by: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[AttemptOutcome | None] = enum_column(AttemptOutcome, nullable=True)
    #: Twilio error code when the call could not be placed.
    error_code: Mapped[int | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]


class OutboundPacing(Base):
    """Per Twilio account: the earliest moment the next callback may be placed.

    Every dispatcher reserves its slot here (a row lock on PostgreSQL, the write lock on SQLite),
    so several clock processes together keep to N calls per second; the same lock makes counting
    ringing callbacks against available operators atomic.
    """

    __tablename__ = "outbound_pacing"

    account_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_call_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
