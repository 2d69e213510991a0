"""Callers: the people who ring the line, recognised by their number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, intpk
from hotline.timeutil import utcnow


class Caller(Base):
    """A caller profile, created at the first contact and enriched by operators or the caller."""

    __tablename__ = "callers"

    id: Mapped[intpk]
    #: E.164 number the caller rings from (normalised with phonenumbers).
    phone_number: Mapped[str] = mapped_column(String(64), unique=True)
    #: Full name, if known.
    name: Mapped[str] = mapped_column(String(120), default="")
    #: How the line addresses them ("王阿姨"); greeted by this name when they call again.
    display_name: Mapped[str] = mapped_column(String(60), default="")
    #: Preferred language (zh-CN, yue-HK, en-US); None means the line's default.
    language: Mapped[str | None] = mapped_column(String(16))
    #: An older caller: waits at older-caller priority.
    is_older_caller: Mapped[bool] = mapped_column(default=False)
    #: Skip the menu entirely and go straight to a person (set by the caller, an operator or a
    #: consented family member).
    is_straight_to_person: Mapped[bool] = mapped_column(default=False)
    #: Hard of hearing: slower prompts and a longer key timeout on their calls.
    is_hard_of_hearing: Mapped[bool] = mapped_column(default=False)
    #: Speaking rate in percent for their calls (None: the script's rate).
    speech_rate_percent: Mapped[int | None]
    #: Seconds to wait for a key (None: the script's timeout).
    input_timeout_seconds: Mapped[int | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    last_contact_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
