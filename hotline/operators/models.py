"""Operators (人工坐席), supervisors (值班负责人) and administrators of the console."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Presence(enum.StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # automatic while on a call
    WRAP_UP = "wrap_up"  # automatic after a call, before the next
    AWAY = "away"
    OFFLINE = "offline"  # automatic when the console has been closed for a while


class AwayReason(enum.StrEnum):
    """Why an operator is away (a break): 用餐 / 培训 / 其他."""

    MEAL = "meal"
    TRAINING = "training"
    OTHER = "other"


class Operator(Base):
    """A person who logs into the console."""

    __tablename__ = "operators"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[Role] = enum_column(Role, default=Role.OPERATOR)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    #: The operator's own phone (E.164); the app rings it to join them to a caller.
    phone_number: Mapped[str | None] = mapped_column(String(64))
    #: Console language: "zh" or "en".
    console_language: Mapped[str] = mapped_column(String(8), default="zh")
    presence: Mapped[Presence] = enum_column(Presence, default=Presence.OFFLINE)
    presence_changed_at: Mapped[datetime | None]
    #: Why the operator is away (meal, training, other); None in every other state.
    away_reason: Mapped[AwayReason | None] = enum_column(AwayReason, nullable=True)
    #: While wrapping up: the wrap-up ends by itself at this time (the line's wrap-up time after
    #: the call, moved on by "+60 s"); see hotline.operators.presence.
    wrap_up_until: Mapped[datetime | None]
    #: Last time the console polled; presence turns offline when this gets old.
    last_seen_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    #: Part of every sign-in session; raising it signs the account out everywhere (logout,
    #: password reset, deactivation), so a captured cookie stops working.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Languages and dialects the operator speaks: the callers' codes ("zh-CN" 普通话, "yue-HK"
    #: 粤语, "en-US" English) or a local dialect named by the centre ("上海话"). Empty: any
    #: language (routing treats them as speaking everything; see hotline.queue.routing).
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Ids of the lines whose callers this operator sees and takes. Empty: every line.
    line_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[created_at]


class PresenceLog(Base):
    """One finished period of an operator's presence: what, why, from when until when.

    A row is written when the period ends (the state changes), so nothing is ever updated; the
    period going on now is the operator row itself (presence, away_reason, presence_changed_at).
    The operator's day report reads wrap-up times from here.
    """

    __tablename__ = "presence_log"
    __table_args__ = (
        # An operator's periods in a day or week (the day report, the operator's own history).
        Index("ix_presence_log_operator_since", "operator_id", "since"),
        # Every operator's periods in a window (the supervisor's day report).
        Index("ix_presence_log_since", "since"),
    )

    id: Mapped[intpk]
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    state: Mapped[Presence] = enum_column(Presence)
    #: The away reason (meal, training, other) of an away period; None otherwise.
    reason: Mapped[str | None] = mapped_column(String(16))
    since: Mapped[datetime]
    until: Mapped[datetime]


class LoginAttempt(Base):
    """A sign-in attempt, for the login rate limit and the audit of who signed in when."""

    __tablename__ = "login_attempts"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(60), index=True)
    #: The client address (request.remote_addr, after the configured proxy hops).
    address: Mapped[str] = mapped_column(String(64))
    is_success: Mapped[bool]
    attempted_at: Mapped[created_at]
