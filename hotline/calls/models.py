"""Calls and the audit record of every webhook Twilio sent us."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(enum.StrEnum):
    """Twilio's call statuses; `rank` orders them so a status never moves backwards."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        """Progress order; every terminal status shares the highest rank."""
        return _STATUS_RANK[self]

    @property
    def is_terminal(self) -> bool:
        return self.rank == 4


_STATUS_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    CallStatus.COMPLETED: 4,
    CallStatus.BUSY: 4,
    CallStatus.FAILED: 4,
    CallStatus.NO_ANSWER: 4,
    CallStatus.CANCELED: 4,
}


class CallOutcome(enum.StrEnum):
    """How a call ended, from the hotline's point of view."""

    ANSWERED = "answered"  # an operator talked to the caller
    ABANDONED = "abandoned"  # hung up in the queue after the short-abandon threshold
    SHORT_ABANDON = "short_abandon"  # hung up in the queue quickly; excluded from rates
    HUNG_UP_IN_MENU = "hung_up_in_menu"
    VOICEMAIL = "voicemail"
    CALLBACK_REQUESTED = "callback_requested"  # chose a callback instead of waiting
    WAIT_CAP = "wait_cap"  # waited the maximum and was moved to voicemail/callback
    FAILED = "failed"


class Call(Base):
    """One phone call, inbound or outbound, identified by Twilio's CallSid."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_line_created", "line_id", "created_at"),
        # The day's queued calls of a line (daily summary, trend, alerts) in a history of millions.
        Index("ix_calls_line_queued", "line_id", "queued_at"),
    )

    id: Mapped[intpk]
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    direction: Mapped[CallDirection] = enum_column(CallDirection)
    status: Mapped[CallStatus] = enum_column(CallStatus)
    #: Highest status-callback SequenceNumber applied (duplicates and stale events are ignored).
    status_sequence: Mapped[int] = mapped_column(default=-1)
    from_number: Mapped[str] = mapped_column(String(64), default="")
    to_number: Mapped[str] = mapped_column(String(64), default="")
    #: Language the call is conducted in.
    language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    #: IVR node the call is at; menu failures (silence/invalid) at that node; steps taken.
    current_node: Mapped[str | None] = mapped_column(String(64))
    node_failures: Mapped[int] = mapped_column(default=0)
    step_count: Mapped[int] = mapped_column(default=0)
    #: Every node visited with the input that left it, for audit and reports.
    menu_path: Mapped[list[Any]] = mapped_column(default=list)
    #: Scenario chosen in the menu (one of the seven policy scenarios, or "other").
    scenario: Mapped[str | None] = mapped_column(String(32))
    queued_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    outcome: Mapped[CallOutcome | None] = enum_column(CallOutcome, nullable=True)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    recording_duration_seconds: Mapped[int | None]
    created_at: Mapped[created_at]

    @property
    def met_a_block(self) -> bool:
        """The call met a supervisor's block at its first step (the IVR engine's "blocked"
        result): a polite voicemail, no queue place, no automatic callback."""
        first = (self.menu_path or [None])[0]
        return isinstance(first, dict) and first.get("result") == "blocked"


#: The call with CallSid `sid`: `session.scalar(CALL_BY_SID, {"sid": sid})`. Built once (issue
#: 16): most webhooks look their call up, and building the statement cost as much as running it.
CALL_BY_SID = select(Call).where(Call.call_sid == bindparam("sid"))


class WebhookEvent(Base):
    """Every signed webhook received, for audit and for idempotency.

    `idempotency_key` hashes the URL and every parameter; Twilio retries send identical requests,
    which get the stored response back instead of being applied twice.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_sid_received", "sid", "received_at"),
        # The hourly prune deletes by age: a range, not a scan of every stored webhook.
        Index("ix_webhook_events_received_at", "received_at"),
    )

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(40))
    #: CallSid or MessageSid.
    sid: Mapped[str] = mapped_column(String(64), default="")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(300))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status_code: Mapped[int] = mapped_column(default=200)
    response_body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[created_at]
