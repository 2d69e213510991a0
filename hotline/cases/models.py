"""Cases: every request for help, followed to its end (skeleton; the cases feature extends it)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Case(Base):
    """One request for help from one caller."""

    __tablename__ = "cases"

    id: Mapped[intpk]
    #: Human-readable case number read out to callers and put first in SMS ("20261129-0042").
    number: Mapped[str] = mapped_column(String(20), unique=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    #: One of the seven policy scenarios, or "other" (reviewed by a supervisor).
    scenario: Mapped[str] = mapped_column(String(32), default="other")
    status: Mapped[CaseStatus] = enum_column(CaseStatus, default=CaseStatus.OPEN)
    summary: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
