"""What an external transfer and a call recording leave behind.

A transfer row is written when the operator adds the outside party (before the REST request,
so its status callbacks always find it) and completed by the participant's call status
callbacks: answered, then ended with Twilio's CallDuration. It belongs to the caller's call;
the case screen shows the transfers of the calls linked to the case.

A recording row is written by the signed recording-status webhook. `media_url` is Twilio's and
never reaches a page: the console plays it through hotline.transfers.views.recording_media.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk


class TransferMode(enum.StrEnum):
    WARM = "warm"  # the caller waits on hold while the operator talks to the agency first
    COLD = "cold"  # the agency is added and the operator leaves at once


class TransferStatus(enum.StrEnum):
    """Where a transfer is; the first three are live."""

    RINGING = "ringing"  # the outside party is being called
    CONSULTING = "consulting"  # warm: the operator talks to them, the caller on hold
    THREE_WAY = "three_way"  # caller, operator and outside party talk together
    HANDED_OVER = "handed_over"  # the operator left; caller and outside party talk
    CANCELLED = "cancelled"  # the operator dropped the outside party
    FAILED = "failed"  # busy, no answer, refused by the carrier
    ENDED = "ended"  # the outside party's leg ended after talking

    @property
    def is_live(self) -> bool:
        return self in (
            TransferStatus.RINGING,
            TransferStatus.CONSULTING,
            TransferStatus.THREE_WAY,
            TransferStatus.HANDED_OVER,
        )


#: A transfer whose outside party is being rung or is in the conversation with the operator
#: still there (one at a time per call; an operator-to-operator transfer waits for it too).
IN_CONVERSATION = (TransferStatus.RINGING, TransferStatus.CONSULTING, TransferStatus.THREE_WAY)


class ExternalTransfer(Base):
    """One outside party (agency, emergency service, typed number) added to a caller's call."""

    __tablename__ = "external_transfers"
    __table_args__ = (
        # The case screen: the transfers of the case's calls, in order.
        Index("ix_external_transfers_call", "call_id", "started_at"),
        # The call panel: the live transfer of a queue entry (every console poll).
        Index("ix_external_transfers_entry_status", "queue_entry_id", "status"),
    )

    id: Mapped[intpk]
    #: The caller's call (the case screen finds transfers through the case's calls).
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    queue_entry_id: Mapped[int] = mapped_column(ForeignKey("queue_entries.id"))
    #: Who transferred.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: The directory entry, when chosen from it (None: typed number or a built-in 120/110/119).
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    #: What it was, for the record: an AgencyKind value ("emergency", "medical" ...) or "number".
    kind: Mapped[str] = mapped_column(String(32))
    #: To whom, as shown ("120 急救", the agency's name, or the typed number masked).
    target_name: Mapped[str] = mapped_column(String(120), default="")
    #: E.164 or an emergency short code (120/110/119/122).
    target_number: Mapped[str] = mapped_column(String(64))
    mode: Mapped[TransferMode] = enum_column(TransferMode)
    status: Mapped[TransferStatus] = enum_column(TransferStatus, default=TransferStatus.RINGING)
    #: The outside party's call leg (its status callbacks carry it).
    participant_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: Twilio's CallDuration of the outside party's leg (how long the transfer lasted).
    duration_seconds: Mapped[int | None]
    #: Twilio's final CallStatus of that leg (completed, busy, no-answer, failed, canceled).
    end_status: Mapped[str | None] = mapped_column(String(16))


class CallRecording(Base):
    """A recording of a caller's conversation (lines with recording on), from Twilio's
    recording-status callback."""

    __tablename__ = "call_recordings"

    id: Mapped[intpk]
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    #: The caller's call (case screen, retention: a caller's recordings go with their data).
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    queue_entry_id: Mapped[int | None] = mapped_column(ForeignKey("queue_entries.id"))
    conference_sid: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[int | None]
    #: 2 for Twilio's dual-channel conference recordings (first participant / everyone else).
    channels: Mapped[int | None]
    #: Twilio's recording URL: fetched server-side with the account credentials, never shown.
    media_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[created_at]
