"""SMS: the outbox (every outbound text is a row, sent by the clock), the inbox, opt-outs and
the supervisor alerts' state."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
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

    @property
    def is_essential(self) -> bool:
        """Still sent after a keyword opt-out (STOP): answers to the person's own texts, and
        telling them we could not reach them. A carrier opt-out (error 21610) stops even these."""
        return self in (SmsPurpose.CALLBACK_FAILED, SmsPurpose.REPLY)


#: Statuses of an outbound text that count against the daily caps (refused ones do not).
COUNTED_STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed")


class SmsMessage(Base):
    """One text message, outbound or inbound."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_outbox", "status", "send_after"),
        # The daily caps count by destination and by line within a day.
        Index("ix_sms_messages_to_created", "to_number", "created_at"),
        Index("ix_sms_messages_line_created", "line_id", "created_at"),
    )

    id: Mapped[intpk]
    direction: Mapped[SmsDirection] = enum_column(SmsDirection)
    status: Mapped[SmsStatus] = enum_column(SmsStatus)
    purpose: Mapped[SmsPurpose | None] = enum_column(SmsPurpose, nullable=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    #: A console user the text is for (a supervisor's summary or alert), or who sent it.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: Which render function wrote it ("ack", "daily_summary", "alert_long_wait", ...).
    kind: Mapped[str | None] = mapped_column(String(40))
    #: Language of the text (zh-CN, yue-HK, en-US, or a console language zh/en).
    language: Mapped[str | None] = mapped_column(String(16))
    to_number: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text)
    #: Segments the body is sent as (70 UCS-2 or 160 GSM-7 characters each).
    segments: Mapped[int] = mapped_column(default=1)
    #: Twilio's MessageSid once handed over (or of the inbound message).
    message_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Not before this time (pacing, retries).
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    #: A clock owns the row (status sending) until this time; after it another may take over.
    lease_expires_at: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(80))
    #: Twilio's own last status (accepted, queued, sending, sent, delivered, ...).
    twilio_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[int | None]
    #: Why our own rules refused it, or the last error, in words.
    status_reason: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    #: Inbound: when the text was acted on (a failed attempt is retried by a replay).
    processed_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OptOutSource(enum.StrEnum):
    KEYWORD = "keyword"  # the person texted STOP / 退订 / TD: non-essential texts stop
    CARRIER = "carrier"  # Twilio answered 21610: the carrier blocks every text from us


class SmsOptOut(Base):
    """A number that asked for no more texts (kept after START for the record)."""

    __tablename__ = "sms_opt_outs"

    id: Mapped[intpk]
    #: E.164 number.
    phone_number: Mapped[str] = mapped_column(String(64), unique=True)
    #: True while opted out; START sets it back to False.
    is_opted_out: Mapped[bool] = mapped_column(default=True)
    source: Mapped[OptOutSource] = enum_column(OptOutSource)
    #: The keyword or error that caused the last change ("TD", "START", "21610").
    trigger: Mapped[str] = mapped_column(String(40), default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[created_at]


class AlertKind(enum.StrEnum):
    """Conditions a supervisor is told about by SMS (and told again when they clear)."""

    LONG_WAIT = "long_wait"
    SERVICE_LEVEL = "service_level"
    CALLBACKS_FAILING = "callbacks_failing"
    URGENT_CASE = "urgent_case"
    OVERDUE_ESCALATION = "overdue_escalation"
    CLOCK_SILENT = "clock_silent"


class SupervisorAlert(Base):
    """One episode of an alert condition: raised once, recovered once.

    `key` names the condition and what it is about ("long_wait:line:1", "urgent_case:case:42",
    "clock_silent"). At most one episode per key is active (partial unique index), so two clocks
    raising the same alert at once cannot both send it; a new episode of a key is raised no
    sooner than the de-duplication window after the previous one.
    """

    __tablename__ = "supervisor_alerts"
    __table_args__ = (
        Index(
            "uq_supervisor_alerts_active_key",
            "key",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index("ix_supervisor_alerts_key_raised", "key", "raised_at"),
    )

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[AlertKind] = enum_column(AlertKind)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    #: True from raising until recovery.
    is_active: Mapped[bool] = mapped_column(default=True)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    recovered_at: Mapped[datetime | None]
    #: The figures the alert text was written from (and the recovery's, once recovered).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SmsSweep(Base):
    """When each clock process last swept the outbox: a sign of life of the clock that does
    not depend on any text being due (see hotline.reports.sources.clock_last_heartbeat)."""

    __tablename__ = "sms_sweeps"

    id: Mapped[intpk]
    clock_id: Mapped[str] = mapped_column(String(80), unique=True)
    swept_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsStatusEvent(Base):
    """A status callback for a MessageSid we have not recorded yet.

    Twilio (or the local gateway) can report "sent" or "delivered" before the clock has
    committed the MessageSid it got back. Both sides write first and look second: the status
    view stores the event, then looks for the text; the clock stores the sid, then looks for
    events. Whichever looks last finds the other's row, so no status is lost.
    """

    __tablename__ = "sms_status_events"

    id: Mapped[intpk]
    message_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None]
    received_at: Mapped[created_at]
