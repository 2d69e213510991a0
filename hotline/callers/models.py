"""Callers: the people who ring the line, recognised by their number, and their family contacts."""

from __future__ import annotations

import enum
from datetime import datetime, time

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class AgeBand(enum.StrEnum):
    """Coarse age, enough for priority and statistics without storing a birth date."""

    UNDER_60 = "under_60"
    AGE_60_69 = "60_69"
    AGE_70_79 = "70_79"
    AGE_80_89 = "80_89"
    AGE_90_PLUS = "90_plus"


class CallerRestriction(enum.StrEnum):
    """A flag set by a supervisor, always with a reason and an expiry."""

    #: Operators see a warning (abusive or harassing calls); the caller is still served.
    WARN = "warn"
    #: The caller is blocked until the expiry (what the voice menu does with that is the IVR's).
    BLOCK = "block"


class ConsentMethod(enum.StrEnum):
    """How the elder told us that a family member may act for them.

    Only the elder can consent: a relative's own word is never consent, so there is no
    "family member says so" method.
    """

    ELDER_ON_CALL = "elder_on_call"  # the elder said so on a call with an operator
    ELDER_IN_PERSON = "elder_in_person"  # at a service window or a home visit
    ELDER_IN_WRITING = "elder_in_writing"  # a signed form or letter


class Caller(Base):
    """A caller profile, created at the first contact and enriched by operators or the caller."""

    __tablename__ = "callers"

    id: Mapped[intpk]
    #: E.164 number the caller rings from (normalised with phonenumbers); "anon-<id>" once
    #: the profile has been anonymised.
    phone_number: Mapped[str] = mapped_column(String(64), unique=True)
    #: Full name, if known.
    name: Mapped[str] = mapped_column(String(120), default="")
    #: How the line addresses them ("王阿姨"); greeted by this name when they call again.
    display_name: Mapped[str] = mapped_column(String(60), default="")
    #: Preferred language (zh-CN, yue-HK, en-US); None means the line's default.
    language: Mapped[str | None] = mapped_column(String(16))
    #: Dialect in words ("四川话", "潮汕话"), so the operator who speaks it can be found.
    dialect: Mapped[str] = mapped_column(String(40), default="")
    #: The language or dialect an operator heard and corrected on a case ("yue-HK", "上海话"):
    #: routing offers the caller's next calls by it, before the menu choice (audited).
    routing_language: Mapped[str | None] = mapped_column(String(40))
    #: Coarse age band (None: not known).
    age_band: Mapped[AgeBand | None] = enum_column(AgeBand, nullable=True)
    #: District or community (街道/社区), for referrals and the scenario review.
    district: Mapped[str] = mapped_column(String(80), default="")
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
    #: Preferred callback window, local time of the line (None: the line's calling window).
    callback_window_start: Mapped[time | None]
    callback_window_end: Mapped[time | None]
    #: Supervisor's flag (warning or block); only in force until `restriction_until`.
    restriction: Mapped[CallerRestriction | None] = enum_column(CallerRestriction, nullable=True)
    restriction_reason: Mapped[str] = mapped_column(String(300), default="")
    restriction_until: Mapped[datetime | None]
    restricted_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Set when this profile was merged into another (the same person from another number);
    #: the row stays so calls from this number are still recognised.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("callers.id"), index=True)
    #: Set when personal data was removed (retention period passed, or on request).
    anonymised_at: Mapped[datetime | None]
    last_contact_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def restriction_in_force(self, now: datetime) -> CallerRestriction | None:
        """The restriction that applies at `now` (an expired one no longer does)."""
        if self.restriction is None:
            return None
        if self.restriction_until is not None and self.restriction_until <= now:
            return None
        return self.restriction

    def is_blocked(self, now: datetime) -> bool:
        """A supervisor's block is in force now (it lapses by itself at its expiry): no queue
        place by voice, no answers by text."""
        return self.restriction_in_force(now) == CallerRestriction.BLOCK

    @property
    def label(self) -> str:
        """How the console names this caller."""
        return self.display_name or self.name or ""


class FamilyContact(Base):
    """A family member or proxy (家人代办) who may act for an elder, with the elder's consent.

    Permissions are only in force while the consent is recorded and not revoked; see
    `hotline.callers.service.consented_family_contacts`.
    """

    __tablename__ = "family_contacts"
    __table_args__ = (
        Index("uq_family_contacts_caller_number", "caller_id", "phone_number", unique=True),
    )

    id: Mapped[intpk]
    caller_id: Mapped[int] = mapped_column(ForeignKey("callers.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: Relation to the elder in words ("女儿", "邻居").
    relation: Mapped[str] = mapped_column(String(40), default="")
    #: E.164 number.
    phone_number: Mapped[str] = mapped_column(String(64))
    #: May be told by SMS when we cannot reach the elder (e.g. the last callback failed).
    may_receive_alerts: Mapped[bool] = mapped_column(default=False)
    #: May ask for a callback to the elder.
    may_request_callbacks: Mapped[bool] = mapped_column(default=False)
    #: May change the elder's preferences (older caller, straight to a person, pacing).
    may_change_profile: Mapped[bool] = mapped_column(default=False)
    #: When and how the elder consented, and which operator recorded it.
    consented_at: Mapped[datetime | None]
    consent_method: Mapped[ConsentMethod | None] = enum_column(ConsentMethod, nullable=True)
    consent_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: The elder withdrew the consent (the row stays for the record).
    consent_revoked_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_consented(self) -> bool:
        """Consent recorded (with a method and an operator) and not revoked."""
        return (
            self.consented_at is not None
            and self.consent_method is not None
            and self.consent_recorded_by is not None
            and self.consent_revoked_at is None
        )

    def may(self, permission: str) -> bool:
        """True when consented and `permission` (e.g. "may_receive_alerts") is granted."""
        if permission not in FAMILY_PERMISSIONS:
            raise ValueError(f"unknown family permission {permission!r}")
        return self.is_consented and bool(getattr(self, permission))


#: The permissions a family contact can be given.
FAMILY_PERMISSIONS = ("may_receive_alerts", "may_request_callbacks", "may_change_profile")
