"""The directory's tables: agencies, community volunteers (邻里守望) and the elders they look after.

A volunteer is staff-side data (kept while they are on the roster), but the elders they look
after are callers: erasing an elder removes the link (hotline.cases.privacy).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class AgencyKind(enum.StrEnum):
    EMERGENCY = "emergency"  # 120 / 110 / 119
    MEDICAL = "medical"  # a hospital, a community health centre
    COMMUNITY_OFFICE = "community_office"  # 街道 / 社区居委会
    GOVERNMENT_SERVICE = "government_service"  # 12345, 民政
    SOCIAL_WORKER = "social_worker"
    OTHER = "other"


class ConsentWay(enum.StrEnum):
    """How a volunteer agreed to be contacted by the hotline (texts and calls)."""

    IN_WRITING = "in_writing"  # a signed form
    IN_PERSON = "in_person"  # told a staff member face to face
    BY_PHONE = "by_phone"  # on a call with the hotline
    BY_SMS = "by_sms"  # answered a text


class Agency(Base):
    """Somewhere a case can be referred to: name, kind, number, hours, notes."""

    __tablename__ = "agencies"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AgencyKind] = enum_column(AgencyKind)
    #: E.164, or a short code ("120", "12345") for the kinds that have them.
    phone_number: Mapped[str] = mapped_column(String(64), unique=True)
    hours: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Volunteer(Base):
    """A community volunteer on the roster: who, how to reach them, where, and their consent."""

    __tablename__ = "volunteers"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120))
    #: E.164 mobile: referral offers are texted to it.
    phone_number: Mapped[str] = mapped_column(String(64), unique=True)
    #: District or community (街道 / 社区), matched against the elder's district.
    district: Mapped[str] = mapped_column(String(80), default="", index=True)
    #: Languages and dialects, as written ("普通话, 粤语").
    languages: Mapped[str] = mapped_column(String(120), default="")
    #: When they can help, as written ("工作日上午", "weekends").
    availability: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    consented_on: Mapped[date]
    consent_way: Mapped[ConsentWay] = enum_column(ConsentWay)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VolunteerElder(Base):
    """An elder (a caller profile) that a volunteer looks after."""

    __tablename__ = "volunteer_elders"
    __table_args__ = (UniqueConstraint("volunteer_id", "caller_id"),)

    id: Mapped[intpk]
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    caller_id: Mapped[int] = mapped_column(ForeignKey("callers.id"), index=True)
