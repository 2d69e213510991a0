"""Callback requests: every promise "we will call you back" is one row, the only source of truth."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
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


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    CONNECTED = "connected"
    FAILED = "failed"
    CANCELED = "canceled"
    DONE = "done"


#: Statuses in which a callback is still a live promise (one per number and line).
ACTIVE_STATUSES = (CallbackStatus.PENDING, CallbackStatus.DIALING)


class CallbackRequest(Base):
    """A callback owed to a caller."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        # The dispatcher's sweep: due pending rows, oldest promise first.
        Index("ix_callback_requests_sweep", "status", "due_at"),
        # One active callback per number and line; a new request merges into it.
        Index(
            "uq_callback_requests_active_number",
            "line_id",
            "phone_number",
            unique=True,
            sqlite_where=text("status IN ('pending', 'dialing')"),
            postgresql_where=text("status IN ('pending', 'dialing')"),
        ),
    )

    id: Mapped[intpk]
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    #: E.164 number to call.
    phone_number: Mapped[str] = mapped_column(String(64))
    reason: Mapped[CallbackReason] = enum_column(CallbackReason)
    status: Mapped[CallbackStatus] = enum_column(CallbackStatus, default=CallbackStatus.PENDING)
    #: When the caller first reached us; callbacks are ordered by it so nobody loses their place.
    original_arrival_at: Mapped[datetime]
    #: Not before this time (also kept inside the line's calling window by the dispatcher).
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    #: A dispatcher owns the row until this time; after it, another may take it over.
    lease_expires_at: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(80))
    last_outcome: Mapped[str | None] = mapped_column(String(80))
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
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]
