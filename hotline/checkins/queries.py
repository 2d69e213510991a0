"""Reads of the check-in programme for the console, the supervisor figures and the reports.

Definitions, the same on every page, in the summary SMS and in the CSV (one episode is one
enrolment's due day; canceled episodes, for a day the enrolment was paused or stopped before
the call, count nowhere):

- *due*: the day's episodes, plus the elders due later that day whose window the clock has not
  opened yet (no episode until it does; *later*). A window that ended with no episode (an
  enrolment made after it) is not due.
- *done*: the elder answered (all is well, or asked for a person) on the check-in call or by
  calling in. *OK*: all is well. *Needed help*: asked for a person.
- *missed*: every attempt missed, so the cascade started (`missed_at`).
- *reached*: missed, then reached by the volunteer, family or the elder calling in.
- *still open*: missed and nobody has reached the elder yet (cascade running, or the
  volunteer or family replied that they could not reach them either: the 失联 case stays open).
- *pending*: not yet answered nor missed (waiting for the window, ringing, a retry due), the
  *later* ones included: the elders still to call that day (the summary's 待访 / "to call").
- *placed* (reports): episodes where at least one call was placed.
- *time to reach* (reports): from `missed_at` to the episode's close, for reached episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from hotline.callers.models import Caller, FamilyContact
from hotline.callers.service import consented_family_contacts
from hotline.cases.models import Case
from hotline.checkins.models import (
    CheckinEnrolment,
    CheckinEpisode,
    EnrolmentStatus,
    EpisodeStatus,
)
from hotline.checkins.schedule import DueWindow, is_due_on, window_on
from hotline.directory.models import Volunteer
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line
from hotline.timeutil import local_day_bounds, utcnow

#: Statuses in which the elder answered the check-in (or called in).
ANSWERED = (EpisodeStatus.OK, EpisodeStatus.HELP)
#: Statuses of a missed elder nobody has reached yet.
STILL_OPEN = (EpisodeStatus.CASCADE, EpisodeStatus.UNREACHABLE)
#: Statuses before an answer or a final miss.
PENDING = (EpisodeStatus.DUE, EpisodeStatus.CALLING, EpisodeStatus.MISSED)


# --------------------------------------------------------------------------- the day's figures


@dataclass(frozen=True)
class CheckinFigures:
    """The check-in figures of one line and local day (supervisor page, summary SMS)."""

    due: int = 0
    done: int = 0
    ok: int = 0
    help: int = 0
    missed: int = 0
    reached: int = 0
    still_open: int = 0
    pending: int = 0
    #: Of `due` and `pending`: due later that day, before the clock has opened the window.
    later: int = 0

    def as_dict(self) -> dict:
        return {
            name: getattr(self, name)
            for name in (
                "due",
                "done",
                "ok",
                "help",
                "missed",
                "reached",
                "still_open",
                "pending",
                "later",
            )
        }


def _count_where(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figure_columns():
    """The aggregate columns shared by the day's figures and the reports."""
    status = CheckinEpisode.status
    return (
        func.count().label("due"),
        _count_where(status.in_(ANSWERED)).label("done"),
        _count_where(status == EpisodeStatus.OK).label("ok"),
        _count_where(status == EpisodeStatus.HELP).label("help"),
        _count_where(CheckinEpisode.missed_at.is_not(None)).label("missed"),
        _count_where(status == EpisodeStatus.REACHED).label("reached"),
        _count_where(status.in_(STILL_OPEN)).label("still_open"),
        _count_where(status.in_(PENDING)).label("pending"),
        _count_where(CheckinEpisode.attempts > 0).label("placed"),
    )


def day_figures(
    session: Session,
    line: Line,
    day: date,
    *,
    now: datetime | None = None,
    scheduled: list[ScheduledRow] | None = None,
) -> CheckinFigures:
    """The figures of `line`'s check-ins due on `day` (its local date): its episodes in one
    query, and the elders whose window on that day has not ended by `now` and whose episode
    the clock has not created yet (see the definitions above): `scheduled`, when the caller
    already holds `scheduled_without_episode`'s list, else read here."""
    row = session.execute(
        select(*_figure_columns()).where(
            CheckinEpisode.line_id == line.id,
            CheckinEpisode.due_date == day,
            CheckinEpisode.status != EpisodeStatus.CANCELED,
        )
    ).one()
    if scheduled is None:
        scheduled = scheduled_without_episode(session, line, day, now=now)
    later = len(scheduled)
    return CheckinFigures(
        due=row.due + later,
        done=row.done,
        ok=row.ok,
        help=row.help,
        missed=row.missed,
        reached=row.reached,
        still_open=row.still_open,
        pending=row.pending + later,
        later=later,
    )


# --------------------------------------------------------------------------- today's board


@dataclass(frozen=True)
class BoardRow:
    """One elder's check-in of the day, as the today page shows it."""

    episode: CheckinEpisode
    caller: Caller
    volunteer: Volunteer | None
    case: Case | None

    @property
    def is_lost_contact(self) -> bool:
        """An open 失联 case: missed, nobody has reached the elder, a case is open."""
        return self.case is not None and self.episode.status in STILL_OPEN

    @property
    def cascade_step(self) -> str | None:
        """The furthest cascade step taken: volunteer_sms, family_sms, case, supervisor."""
        e = self.episode
        for step, at in (
            ("supervisor", e.supervisor_alerted_at),
            ("case", e.case_opened_at),
            ("family_sms", e.family_sms_at),
            ("volunteer_sms", e.volunteer_sms_at),
        ):
            if at is not None:
                return step
        return None

    @property
    def deadline_at(self) -> datetime | None:
        """The 失联 case's deadline: once escalated to the supervisors, the escalation's; before
        that, the volunteer's time to reply (the cascade's next step); else a follow-up date."""
        if self.case is None:
            return None
        if self.case.escalation_deadline_at is not None:
            return self.case.escalation_deadline_at
        e = self.episode
        if e.status == EpisodeStatus.CASCADE and e.supervisor_alerted_at is None:
            return e.next_step_at or self.case.follow_up_at
        return self.case.follow_up_at


#: The board's sections, in the order the page shows them.
SECTIONS = ("lost_contact", "cascade", "missed", "help", "pending", "ok")


def board_section(row: BoardRow) -> str:
    """Which section of the today page a row belongs to."""
    status = row.episode.status
    if row.is_lost_contact:
        return "lost_contact"
    if status in STILL_OPEN:
        return "cascade"
    if status == EpisodeStatus.REACHED:
        return "missed"
    if status == EpisodeStatus.HELP:
        return "help"
    if status in PENDING:
        return "pending"
    return "ok"


def today_board(session: Session, line_id: int, day: date) -> dict[str, list[BoardRow]]:
    """The day's episodes of a line by section, the rest by window; the open 失联 cases, of
    this day and earlier ones, by deadline (soonest first)."""
    rows = _board_rows(
        session,
        CheckinEpisode.line_id == line_id,
        CheckinEpisode.due_date == day,
        CheckinEpisode.status != EpisodeStatus.CANCELED,
    )
    board: dict[str, list[BoardRow]] = {name: [] for name in SECTIONS}
    for row in rows:
        board[board_section(row)].append(row)
    board["lost_contact"].extend(_earlier_lost_contact(session, line_id, day))
    board["lost_contact"].sort(key=_by_deadline)
    return board


def _board_rows(session: Session, *conditions) -> list[BoardRow]:
    """Episodes with their elder, volunteer and case, by window."""
    rows = session.execute(
        select(CheckinEpisode, Caller, Volunteer, Case)
        .join(Caller, Caller.id == CheckinEpisode.caller_id)
        .outerjoin(Volunteer, Volunteer.id == CheckinEpisode.volunteer_id)
        .outerjoin(Case, Case.id == CheckinEpisode.case_id)
        .where(*conditions)
        .order_by(CheckinEpisode.window_start_at, CheckinEpisode.id)
    ).all()
    return [
        BoardRow(episode, caller, volunteer, case_) for episode, caller, volunteer, case_ in rows
    ]


def board_row_for_case(session: Session, case_id: int) -> BoardRow | None:
    """The check-in whose cascade opened this case, if one did."""
    rows = _board_rows(session, CheckinEpisode.case_id == case_id)
    return rows[0] if rows else None


_FAR_FUTURE = datetime.max.replace(tzinfo=ZoneInfo("UTC"))


def _by_deadline(row: BoardRow) -> tuple:
    """Soonest deadline first; a case without one last."""
    return (row.deadline_at or _FAR_FUTURE, row.episode.id)


def _earlier_lost_contact(session: Session, line_id: int, day: date) -> list[BoardRow]:
    """Open 失联 cases of earlier days: nobody has reached the elder yet, so they stay on the
    page until someone does."""
    return _board_rows(
        session,
        CheckinEpisode.line_id == line_id,
        CheckinEpisode.due_date < day,
        CheckinEpisode.status.in_(STILL_OPEN),
        CheckinEpisode.case_id.is_not(None),
    )


@dataclass(frozen=True)
class ScheduledRow:
    """An enrolment due on the day whose episode the clock has not created yet (it does so
    when the window opens)."""

    enrolment: CheckinEnrolment
    caller: Caller
    volunteer: Volunteer | None
    window: DueWindow


def scheduled_without_episode(
    session: Session, line: Line, day: date, *, now: datetime | None = None
) -> list[ScheduledRow]:
    """Live enrolments of `line` due on `day` (by the schedule's rules) with no episode yet,
    whose window on that day has not ended by `now` (one that ended with no episode, as for an
    elder enrolled after it, will not be called that day; nor will any of a day gone by)."""
    now = now or utcnow()
    if local_day_bounds(day, line.timezone)[1] <= now:
        return []
    calendar = LineCalendar.load(session, line)
    started = select(CheckinEpisode.enrolment_id).where(
        CheckinEpisode.line_id == line.id, CheckinEpisode.due_date == day
    )
    rows = session.execute(
        select(CheckinEnrolment, Caller, Volunteer)
        .join(Caller, Caller.id == CheckinEnrolment.caller_id)
        .outerjoin(Volunteer, Volunteer.id == CheckinEnrolment.volunteer_id)
        .where(
            CheckinEnrolment.line_id == line.id,
            CheckinEnrolment.status.in_((EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED)),
            CheckinEnrolment.id.not_in(started),
        )
        .order_by(CheckinEnrolment.window_start, CheckinEnrolment.id)
    ).all()
    scheduled = [
        ScheduledRow(enrolment, caller, volunteer, window_on(enrolment, calendar, day))
        for enrolment, caller, volunteer in rows
        if is_due_on(enrolment, calendar, day)
    ]
    return [row for row in scheduled if row.window.end_at > now]


# --------------------------------------------------------------------------- history strip


def strip_state(episode: CheckinEpisode | None) -> str:
    """ok / help / reached (by a volunteer, family, or calling in after a miss) / missed
    (nobody reached them) / pending (today, not settled) / none (no check-in that day)."""
    if episode is None or episode.status == EpisodeStatus.CANCELED:
        return "none"
    status = episode.status
    if status == EpisodeStatus.OK:
        return "ok"
    if status == EpisodeStatus.HELP:
        return "help"
    if status == EpisodeStatus.REACHED:
        return "reached"
    if status in STILL_OPEN:
        return "missed"
    return "pending"


@dataclass(frozen=True)
class StripDay:
    day: date
    state: str
    episode_id: int | None = None
    #: Who reached the elder after a miss ("volunteer", "family", "elder"), for the title.
    reached_by: str | None = None


def history_strip(
    session: Session, caller_id: int, last_day: date, *, days: int = 28
) -> list[StripDay]:
    """The elder's last `days` days up to `last_day` (oldest first), one state a day."""
    first_day = last_day - timedelta(days=days - 1)
    episodes = session.scalars(
        select(CheckinEpisode)
        .where(
            CheckinEpisode.caller_id == caller_id,
            CheckinEpisode.due_date >= first_day,
            CheckinEpisode.due_date <= last_day,
        )
        .order_by(CheckinEpisode.id)
    ).all()
    by_day: dict[date, CheckinEpisode] = {}
    for episode in episodes:  # two lines on one day: the one that matters most wins
        held = by_day.get(episode.due_date)
        if held is None or _weight(episode) > _weight(held):
            by_day[episode.due_date] = episode
    strip = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        episode = by_day.get(day)
        state = strip_state(episode)
        strip.append(
            StripDay(
                day=day,
                state=state,
                episode_id=episode.id if episode else None,
                reached_by=episode.closed_by if episode and state == "reached" else None,
            )
        )
    return strip


#: The strip's states from the least to the most a supervisor must see (two lines on one day
#: show the weightier).
_STRIP_WEIGHT = ("none", "ok", "pending", "reached", "help", "missed")


def _weight(episode: CheckinEpisode) -> int:
    return _STRIP_WEIGHT.index(strip_state(episode))


# --------------------------------------------------------------------------- enrolments


def live_enrolments(session: Session, caller_id: int) -> list[CheckinEnrolment]:
    """The elder's active or paused enrolments."""
    return list(
        session.scalars(
            select(CheckinEnrolment)
            .where(
                CheckinEnrolment.caller_id == caller_id,
                CheckinEnrolment.status.in_((EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED)),
            )
            .order_by(CheckinEnrolment.id)
        )
    )


def enrolment_list(
    session: Session, statuses: tuple[EnrolmentStatus, ...]
) -> list[tuple[CheckinEnrolment, Caller, Volunteer | None, Line]]:
    """Enrolments in `statuses` with their elder, volunteer and line, by district then elder."""
    rows = session.execute(
        select(CheckinEnrolment, Caller, Volunteer, Line)
        .join(Caller, Caller.id == CheckinEnrolment.caller_id)
        .join(Line, Line.id == CheckinEnrolment.line_id)
        .outerjoin(Volunteer, Volunteer.id == CheckinEnrolment.volunteer_id)
        .where(CheckinEnrolment.status.in_(statuses))
        .order_by(Caller.district, Caller.display_name, Caller.name, CheckinEnrolment.id)
    ).all()
    return [tuple(row) for row in rows]


def enrolments_of(session: Session, caller_id: int) -> list[CheckinEnrolment]:
    """Every enrolment of the elder, newest first (stopped ones too)."""
    return list(
        session.scalars(
            select(CheckinEnrolment)
            .where(CheckinEnrolment.caller_id == caller_id)
            .order_by(CheckinEnrolment.id.desc())
        )
    )


def recent_episodes(session: Session, enrolment_id: int, *, limit: int = 30):
    """The enrolment's latest episodes, newest first."""
    return list(
        session.scalars(
            select(CheckinEpisode)
            .where(CheckinEpisode.enrolment_id == enrolment_id)
            .order_by(CheckinEpisode.due_date.desc(), CheckinEpisode.id.desc())
            .limit(limit)
        )
    )


def volunteer_roster(session: Session, district: str = "") -> list[Volunteer]:
    """Active volunteers, those of `district` first, then by name."""
    volunteers = session.scalars(
        select(Volunteer).where(Volunteer.is_active.is_(True)).order_by(Volunteer.name)
    ).all()
    return sorted(volunteers, key=lambda v: (not (district and v.district == district), v.name))


def consented_family(session: Session, caller_id: int) -> list[FamilyContact]:
    """The elder's family contacts who may be told when the elder cannot be reached (consent in
    force, may receive alerts): the ones an enrolment chooses from."""
    return consented_family_contacts(session, caller_id, "may_receive_alerts")


# --------------------------------------------------------------------------- reports


#: How a report groups: by the elder's district, or by the volunteer who looks after them.
GROUPINGS = ("district", "volunteer")


@dataclass
class ReportRow:
    """Figures of one district or volunteer over a period (see the module docstring)."""

    key: str
    label: str
    enrolled: int = 0
    placed: int = 0
    ok: int = 0
    help: int = 0
    missed: int = 0
    reached: int = 0
    #: Seconds from the miss to reaching the elder, one per reached episode.
    reach_seconds: list[float] = field(default_factory=list)
    #: Supervisors only: the missed elders and how many times each was missed.
    missed_elders: dict[int, int] = field(default_factory=dict)

    @property
    def average_reach_seconds(self) -> float | None:
        if not self.reach_seconds:
            return None
        return sum(self.reach_seconds) / len(self.reach_seconds)


@dataclass(frozen=True)
class CheckinReport:
    grouping: str
    day_from: date
    day_to: date
    rows: list[ReportRow]
    total: ReportRow
    #: The missed elders by id (names and numbers for the supervisors' view).
    elders: dict[int, Caller]


def _group_column(grouping: str, volunteer_column):
    if grouping == "district":
        return Caller.district
    if grouping == "volunteer":
        return volunteer_column
    raise ValueError(f"unknown grouping {grouping!r}")


def _live_in_period(session: Session, day_from: date, day_to: date):
    """Enrolments live at some time in the local dates [day_from, day_to], each by its own
    line's time zone: the period of a line in Urumqi starts two hours after Shanghai's, and a
    report across lines must not count an elder enrolled at 23:30 local on the last day as
    outside it (episodes need no such care: their `due_date` is already a local date)."""
    per_line = []
    for line_id, timezone in session.execute(select(Line.id, Line.timezone)).all():
        start, _ = local_day_bounds(day_from, timezone)
        _, end = local_day_bounds(day_to, timezone)
        per_line.append(
            and_(
                CheckinEnrolment.line_id == line_id,
                CheckinEnrolment.created_at < end,
                CheckinEnrolment.stopped_at.is_(None) | (CheckinEnrolment.stopped_at >= start),
            )
        )
    return or_(*per_line) if per_line else false()


def checkin_report(session: Session, grouping: str, day_from: date, day_to: date) -> CheckinReport:
    """Per district or per volunteer, over the local dates [day_from, day_to] (each line's
    own): enrolled (an enrolment live at any time in the period), check-ins placed, answered
    OK, needed help, missed, reached and the average time to reach a missed elder."""
    rows: dict[str, ReportRow] = {}

    def row_for(key) -> ReportRow:
        text = "" if key is None else str(key)
        if text not in rows:
            rows[text] = ReportRow(key=text, label=text)
        return rows[text]

    enrol_key = _group_column(grouping, CheckinEnrolment.volunteer_id)
    enrolled = session.execute(
        select(enrol_key, func.count(func.distinct(CheckinEnrolment.caller_id)))
        .join(Caller, Caller.id == CheckinEnrolment.caller_id)
        .where(_live_in_period(session, day_from, day_to))
        .group_by(enrol_key)
    ).all()
    for key, count in enrolled:
        row_for(key).enrolled = count

    episode_key = _group_column(grouping, CheckinEpisode.volunteer_id)
    in_period = (
        CheckinEpisode.due_date >= day_from,
        CheckinEpisode.due_date <= day_to,
        CheckinEpisode.status != EpisodeStatus.CANCELED,
    )
    figures = session.execute(
        select(episode_key.label("key"), *_figure_columns())
        .join(Caller, Caller.id == CheckinEpisode.caller_id)
        .where(*in_period)
        .group_by(episode_key)
    ).all()
    for f in figures:
        row = row_for(f.key)
        row.placed, row.ok, row.help = f.placed, f.ok, f.help
        row.missed, row.reached = f.missed, f.reached

    missed = session.execute(
        select(
            episode_key.label("key"),
            CheckinEpisode.caller_id,
            CheckinEpisode.status,
            CheckinEpisode.missed_at,
            CheckinEpisode.closed_at,
        )
        .join(Caller, Caller.id == CheckinEpisode.caller_id)
        .where(*in_period, CheckinEpisode.missed_at.is_not(None))
    ).all()
    for m in missed:
        row = row_for(m.key)
        row.missed_elders[m.caller_id] = row.missed_elders.get(m.caller_id, 0) + 1
        if m.status == EpisodeStatus.REACHED and m.closed_at is not None:
            row.reach_seconds.append(max(0.0, (m.closed_at - m.missed_at).total_seconds()))

    if grouping == "volunteer":
        ids = [int(k) for k in rows if k]
        names = dict(
            session.execute(
                select(Volunteer.id, Volunteer.name).where(Volunteer.id.in_(ids or [-1]))
            ).all()
        )
        for row in rows.values():
            row.label = names.get(int(row.key), f"#{row.key}") if row.key else ""
    ordered = sorted(rows.values(), key=lambda r: (r.key == "", r.label, r.key))
    total = ReportRow(key="*", label="*")
    for row in ordered:
        for name in ("enrolled", "placed", "ok", "help", "missed", "reached"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        total.reach_seconds.extend(row.reach_seconds)
        for caller_id, n in row.missed_elders.items():
            total.missed_elders[caller_id] = total.missed_elders.get(caller_id, 0) + n
    elder_ids = list(total.missed_elders)
    elders = {
        c.id: c for c in session.scalars(select(Caller).where(Caller.id.in_(elder_ids or [-1])))
    }
    return CheckinReport(grouping, day_from, day_to, ordered, total, elders)
