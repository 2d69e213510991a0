"""Check-ins (关爱回访): elders enrolled in scheduled "are you all right?" calls, and each day's
call with its cascade when nobody answers.

`CheckinEnrolment` is the elder's standing arrangement (schedule, consent, volunteer, family);
`CheckinEpisode` is one due day of it: the call or calls placed, the elder's answer, and when the
elder could not be reached, each step of the cascade (volunteer SMS, family SMS, the 失联 case,
the supervisor alert) with its timestamp, until someone closes it with an outcome.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.callers.models import ConsentMethod
from hotline.db import Base, created_at, enum_column, intpk
from hotline.timeutil import utcnow


class EnrolmentStatus(enum.StrEnum):
    ACTIVE = "active"
    #: Paused until `paused_until` (hospital stay, travelling); active again the day after.
    PAUSED = "paused"
    #: Ended for good (the row stays for the history and the reports).
    STOPPED = "stopped"


class CalendarRule(enum.StrEnum):
    """Which days a check-in is due, in the line's time zone."""

    #: Every day of the week (public holidays skipped only when `skip_public_holidays`).
    EVERY_DAY = "every_day"
    #: Working days by the Chinese calendar and the line's overrides: weekdays that are not
    #: public holidays, plus make-up workdays (调休) that fall on a weekend.
    WORKING_DAYS = "working_days"
    #: The weekdays in `days_of_week` (public holidays skipped only when `skip_public_holidays`).
    CHOSEN_DAYS = "chosen_days"


class EpisodeStatus(enum.StrEnum):
    #: Created for today; the call is not placed yet (waiting for the window).
    DUE = "due"
    #: A call is placed or ringing (the CallbackRequest is pending or dialing).
    CALLING = "calling"
    #: The elder said all is well (on the check-in call, or by calling in).
    OK = "ok"
    #: The elder asked for a person (key 0, words, silence twice): queued for an operator.
    HELP = "help"
    #: An attempt was missed; another is due at `next_attempt_at`.
    MISSED = "missed"
    #: Every attempt missed: the cascade runs (volunteer, family, 失联 case, supervisor).
    CASCADE = "cascade"
    #: Someone reached the elder after the cascade started (volunteer, family, the elder).
    REACHED = "reached"
    #: The volunteer or family could not reach the elder either; the 失联 case stays open.
    UNREACHABLE = "unreachable"
    #: Not needed any more (enrolment paused or stopped before the call was placed).
    CANCELED = "canceled"


#: Statuses in which an episode is still open (the elder has not been accounted for).
OPEN_EPISODE_STATUSES = (
    EpisodeStatus.DUE,
    EpisodeStatus.CALLING,
    EpisodeStatus.MISSED,
    EpisodeStatus.CASCADE,
)


class EpisodeOutcome(enum.StrEnum):
    """How an episode ended (with `closed_by` saying who ended it)."""

    OK = "ok"  # the elder confirmed on the check-in call
    CALLED_IN = "called_in"  # the elder called the line and confirmed (or was recognised)
    HELP = "help"  # the elder asked for a person; the queue took over
    REACHED_BY_VOLUNTEER = "reached_by_volunteer"  # volunteer replied 1
    REACHED_BY_FAMILY = "reached_by_family"  # a family contact replied 1
    UNREACHABLE = "unreachable"  # volunteer or family replied 2
    CLOSED_BY_OPERATOR = "closed_by_operator"  # an operator closed it from the console
    CANCELED = "canceled"  # enrolment paused or stopped before the call


class CheckinEnrolment(Base):
    """An elder enrolled in scheduled check-in calls on one line, with their recorded consent."""

    __tablename__ = "checkin_enrolments"
    __table_args__ = (
        # One live enrolment per elder and line (a stopped one may be followed by a new one).
        Index(
            "uq_checkin_enrolments_live",
            "caller_id",
            "line_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'paused')"),
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
        # The clock's daily sweep walks the live enrolments.
        Index("ix_checkin_enrolments_status", "status"),
    )

    id: Mapped[intpk]
    caller_id: Mapped[int] = mapped_column(ForeignKey("callers.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    status: Mapped[EnrolmentStatus] = enum_column(EnrolmentStatus, default=EnrolmentStatus.ACTIVE)
    calendar_rule: Mapped[CalendarRule] = enum_column(CalendarRule, default=CalendarRule.EVERY_DAY)
    #: For CHOSEN_DAYS: the weekdays, 0 = Monday ... 6 = Sunday.
    days_of_week: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Skip the national public holidays (EVERY_DAY and CHOSEN_DAYS; WORKING_DAYS always does).
    skip_public_holidays: Mapped[bool] = mapped_column(default=False)
    #: The local time window (line time zone) in which the call is placed; start < end.
    window_start: Mapped[time]
    window_end: Mapped[time]
    #: Minutes after a missed attempt at which the next one is placed ("20,60": two retries).
    retry_minutes: Mapped[str] = mapped_column(String(40), default="20,60")
    #: The volunteer (from the roster) told first when the elder cannot be reached.
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    #: Tell the elder's consented family contacts (may_receive_alerts) when unreachable.
    notify_family: Mapped[bool] = mapped_column(default=True)
    #: Which of those to tell (FamilyContact ids, chosen in the console); None: all of them.
    family_contact_ids: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    #: The elder's consent to the programme: when, how, who witnessed it, who recorded it.
    consented_at: Mapped[datetime]
    consent_method: Mapped[ConsentMethod] = enum_column(ConsentMethod)
    consent_witness: Mapped[str] = mapped_column(String(120), default="")
    consent_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    #: While paused: the last local date without calls (active again the day after).
    paused_until: Mapped[date | None]
    pause_reason: Mapped[str] = mapped_column(String(200), default="")
    stopped_at: Mapped[datetime | None]
    stop_reason: Mapped[str] = mapped_column(String(200), default="")
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def tells_family_contact(self, contact_id: int) -> bool:
        """Whether this family contact (already consented, may receive alerts) is told when
        the elder cannot be reached."""
        return self.notify_family and (
            self.family_contact_ids is None or contact_id in self.family_contact_ids
        )

    @property
    def retry_delays(self) -> list[int]:
        """The retry delays in minutes, in order (malformed parts ignored)."""
        return [int(p) for p in self.retry_minutes.replace(" ", "").split(",") if p.isdigit()]


class CheckinEpisode(Base):
    """One due day of one enrolment: its calls, the elder's answer, and the cascade."""

    __tablename__ = "checkin_episodes"
    __table_args__ = (
        # Exactly one episode per enrolment and local date, however many clocks run.
        UniqueConstraint("enrolment_id", "due_date"),
        # The cascade sweep: open episodes whose next step is due.
        Index("ix_checkin_episodes_sweep", "status", "next_step_at"),
        # Today's check-ins per line (console, figures, "check in now").
        Index("ix_checkin_episodes_line_date", "line_id", "due_date"),
        Index("ix_checkin_episodes_caller_date", "caller_id", "due_date"),
    )

    id: Mapped[intpk]
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("checkin_enrolments.id"))
    #: Copied from the enrolment for the day's queries.
    caller_id: Mapped[int] = mapped_column(ForeignKey("callers.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    #: The local date (line time zone) the check-in is for.
    due_date: Mapped[date]
    #: The window of that date in UTC.
    window_start_at: Mapped[datetime]
    window_end_at: Mapped[datetime]
    status: Mapped[EpisodeStatus] = enum_column(EpisodeStatus, default=EpisodeStatus.DUE)
    #: Calls placed so far (1 = the first call, 2 = the first retry ...).
    attempts: Mapped[int] = mapped_column(default=0)
    #: When the clock should act next (the next call, the next cascade step); None: nothing due.
    next_step_at: Mapped[datetime | None]
    #: The callback request that places the current call (the dispatcher's guarantees).
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callback_requests.id"))
    #: How the latest attempt ended (an AttemptOutcome value, "hung_up", "no_input" ...).
    last_attempt_outcome: Mapped[str | None] = mapped_column(String(32))
    last_attempt_at: Mapped[datetime | None]
    #: The elder's answer: when, and how ("key", "speech", "called_in", "recognised").
    answered_at: Mapped[datetime | None]
    answered_via: Mapped[str | None] = mapped_column(String(16))
    #: The cascade, each step with its time (None: not reached / not applicable yet).
    missed_at: Mapped[datetime | None]
    volunteer_sms_at: Mapped[datetime | None]
    family_sms_at: Mapped[datetime | None]
    family_sms_count: Mapped[int] = mapped_column(default=0)
    case_opened_at: Mapped[datetime | None]
    supervisor_alerted_at: Mapped[datetime | None]
    #: The 失联 (lost contact) case opened by the cascade.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    #: The reply that closed the cascade: who ("volunteer", "family"), the code ("1"/"2"), when.
    reply_by: Mapped[str | None] = mapped_column(String(16))
    reply_code: Mapped[str | None] = mapped_column(String(8))
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: Who closed it: "elder", "volunteer", "family", "operator", "system".
    closed_by: Mapped[str | None] = mapped_column(String(16))
    closed_by_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    outcome: Mapped[EpisodeOutcome | None] = enum_column(EpisodeOutcome, nullable=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_EPISODE_STATUSES
