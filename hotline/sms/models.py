"""SMS messages: the outbox (every outbound text is a row, sent by the clock) and the inbox."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class SmsDirection(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class SmsStatus(enum.StrEnum):
    QUEUED = "queued"  # in our outbox, not yet handed to Twilio
    SENDING = "sending"  # claimed by a clock process
    SENT = "sent"  # accepted by Twilio (then Twilio's own statuses)
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    REFUSED = "refused"  # our own rules refused it (allowlist, cap, country, opt-out)
    RECEIVED = "received"  # inbound


class SmsPurpose(enum.StrEnum):
    """Why a text is sent; opt-out stops everything but the essential ones."""

    CALLBACK_FAILED = "callback_failed"  # essential: we could not reach you
    CALLBACK_CONFIRMATION = "callback_confirmation"
    REPLY = "reply"  # answer to a caller's text (essential)
    FAMILY_ALERT = "family_alert"
    SUPERVISOR_SUMMARY = "supervisor_summary"
    SUPERVISOR_ALERT = "supervisor_alert"
    REFERRAL = "referral"
    CHECK_IN = "check_in"


class SmsMessage(Base):
    """One text message, outbound or inbound."""

    __tablename__ = "sms_messages"
    __table_args__ = (Index("ix_sms_messages_outbox", "status", "send_after"),)

    id: Mapped[intpk]
    direction: Mapped[SmsDirection] = enum_column(SmsDirection)
    status: Mapped[SmsStatus] = enum_column(SmsStatus)
    purpose: Mapped[SmsPurpose | None] = enum_column(SmsPurpose, nullable=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    to_number: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text)
    #: Twilio's MessageSid once handed over (or of the inbound message).
    message_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Not before this time (pacing, retries).
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None]
    error_code: Mapped[int | None]
    #: Why our own rules refused it, or the last error, in words.
    status_reason: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
