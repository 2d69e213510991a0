"""Reports: the record of each daily summary sent (one per line and local day)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, intpk


class DailySummary(Base):
    """The daily summary of one line for one local day.

    The unique (line, day) pair is the claim: the clock that inserts it queues the texts in the
    same transaction, so several clocks send the summary exactly once.
    """

    __tablename__ = "daily_summaries"
    __table_args__ = (UniqueConstraint("line_id", "local_day"),)

    id: Mapped[intpk]
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    #: The day in the line's time zone.
    local_day: Mapped[date]
    #: The figures as sent (pending callbacks and open cases are a snapshot of that moment).
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: How many supervisors it was queued for.
    recipients: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
