"""The operator queue: one row per caller waiting for (or talking to) a person.

Twilio physically holds waiting callers (<Enqueue> into the line's Twilio queue), so a restart of
the web processes drops nobody; this table decides the order. An entry is taken out of "waiting"
only by a conditional UPDATE that proceeds when exactly one row changed, so two operators
clicking at the same moment can never both get the same caller.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class QueueStatus(enum.StrEnum):
    """Where an entry is; the first three are live, the others final."""

    WAITING = "waiting"  # held by Twilio's <Enqueue>, in our order
    CONNECTING = "connecting"  # claimed: the operator is being rung, the caller is in the room
    CONNECTED = "connected"  # talking to an operator
    COMPLETED = "completed"  # the conversation ended
    ABANDONED = "abandoned"  # hung up before anyone answered (short or not: see Call.outcome)
    CALLBACK = "callback"  # chose to be called back instead of waiting (virtual hold)
    VOICEMAIL = "voicemail"  # waited the maximum (or the Twilio queue failed): voicemail + callback

    @property
    def is_live(self) -> bool:
        return self in LIVE_STATUSES


LIVE_STATUSES = (QueueStatus.WAITING, QueueStatus.CONNECTING, QueueStatus.CONNECTED)


class QueueEntry(Base):
    """One caller in the operator queue of one line."""

    __tablename__ = "queue_entries"
    __table_args__ = (
        # The console's and the wait prompt's question: who waits on this line, in which order.
        Index("ix_queue_entries_order", "line_id", "status", "priority", "arrived_at", "id"),
        # The same order across all lines ("take the next caller", the console, live counts):
        # without it the database reads every entry ever written, then sorts.
        Index("ix_queue_entries_waiting", "status", "priority", "arrived_at", "id"),
        # Answers in the last half hour (the wait estimate, every wait round of every caller).
        Index("ix_queue_entries_line_connected", "line_id", "connected_at"),
        # An operator's current call and their last finished one (every console poll): an
        # operator answers tens of thousands of calls a year.
        Index("ix_queue_entries_operator_status", "operator_id", "status", "ended_at"),
    )

    id: Mapped[intpk]
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    #: The call that waits (one entry per call; a caller put back in the queue keeps it).
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    status: Mapped[QueueStatus] = enum_column(QueueStatus, default=QueueStatus.WAITING)
    #: hotline.queue.service.Priority: lower is served first.
    priority: Mapped[int]
    #: Why this priority, in one word (emergency, callback, older_caller, normal).
    priority_reason: Mapped[str] = mapped_column(String(32), default="normal")
    #: Why the caller went to a person (key_0, silence_twice, straight_to_person, callback, ...).
    reason: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    scenario: Mapped[str | None] = mapped_column(String(32))
    #: The original arrival (a returning callback keeps the time of the first call): the order
    #: within a priority, so nobody loses their place by accepting a callback.
    arrived_at: Mapped[datetime]
    #: When the caller reached the queue this time: their waiting time and the abandon threshold.
    enqueued_at: Mapped[datetime]
    #: Twilio's QueueSid, learnt from the first wait request; needed to dequeue by CallSid.
    queue_sid: Mapped[str | None] = mapped_column(String(64))
    #: Operator who should take it (a callback they scheduled); others skip it for a while.
    preferred_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: Operator who took the caller, their phone or browser leg, and the conference joining them.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    operator_call_sid: Mapped[str | None] = mapped_column(String(64))
    conference_name: Mapped[str | None] = mapped_column(String(64))
    conference_sid: Mapped[str | None] = mapped_column(String(64))
    is_on_hold: Mapped[bool] = mapped_column(default=False)
    #: A warm transfer in progress: the operator being rung, their leg, whether they joined.
    transfer_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    transfer_call_sid: Mapped[str | None] = mapped_column(String(64))
    is_transfer_joined: Mapped[bool] = mapped_column(default=False)
    #: Wait documents served (makes every wait prompt's action URL unique).
    wait_turns: Mapped[int] = mapped_column(default=0)
    last_announced_at: Mapped[datetime | None]
    #: Times the caller went back to the queue because the operator's phone did not answer.
    requeue_count: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: The callback tied to this wait: the one owed when the caller left without talking to
    #: anyone, or (a returning callback call) the one being kept.
    callback_request_id: Mapped[int | None] = mapped_column(ForeignKey("callback_requests.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TalkEnd(enum.StrEnum):
    """How an operator's stretch of talk with a caller ended."""

    HUNG_UP = "hung_up"  # the operator ended the call (the console's hang-up, or their phone)
    CALL_ENDED = "call_ended"  # the caller hung up, or the conference ended around them
    HANDED_OVER = "handed_over"  # warm transfer: they left the caller to the colleague who joined
    TRANSFERRED = "transferred"  # warm external transfer: they left the caller with the agency
    COLD_TRANSFER = "cold_transfer"  # cold external transfer: they left as the agency was rung
    LEFT = "left"  # joined a colleague's call as a transfer and left it (cancelled, hung up)


class OperatorTalk(Base):
    """One operator's stretch of talk with one caller: from the moment they are in the
    conversation (they answered the caller they took, or joined a colleague's call as a warm
    transfer) until they leave it.

    A caller may have several stretches: two operators during a warm hand-over (both rows
    overlap while all three talk), or the same operator twice when a cold transfer nobody
    answered sent the caller back to the queue and they took them again. The operator's day
    (hotline.floor.day) reads talk time, longest call and calls handled from here, so each
    operator is credited with their own stretches only. A row is written when the stretch
    starts and closed (`ended_at`, `ended_by`) when it ends; an open row is a conversation
    going on now.
    """

    __tablename__ = "operator_talks"
    __table_args__ = (
        # Closing the open stretches of a conversation (every hang-up, hand-over, transfer).
        Index("ix_operator_talks_entry_ended", "queue_entry_id", "ended_at"),
        # An operator's stretches in a day or week (their own day report).
        Index("ix_operator_talks_operator_started", "operator_id", "started_at"),
        # Every operator's stretches in a window (the supervisor's day report).
        Index("ix_operator_talks_started", "started_at"),
    )

    id: Mapped[intpk]
    queue_entry_id: Mapped[int] = mapped_column(ForeignKey("queue_entries.id"))
    #: The caller's call (recording playback rights: who talked on this call).
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    #: How the stretch ended (None while it goes on).
    ended_by: Mapped[TalkEnd | None] = enum_column(TalkEnd, nullable=True)
