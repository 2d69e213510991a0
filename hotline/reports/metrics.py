"""The line's numbers: calls, callbacks and cases of a local day (or any window).

Definitions (mission brief, "Numbers we hold ourselves to"):

- A call is *offered* when it reached the operator queue (`Call.queued_at`) in the window,
  inbound, on the line, and has left the queue (answered, abandoned, or moved on). Calls still
  waiting are counted in the live numbers, not yet in the rates.
- A *short abandon* (hung up in the queue before `Line.abandon_callback_after_seconds`) is
  excluded everywhere: not offered, not abandoned, not a wait. It is reported apart.
- *Abandoned*: hung up in the queue after that. Other exits (chose a callback, left a voicemail,
  reached the wait cap) are offered calls that were neither answered nor abandoned.
- *Service level*, both ways, at the line's threshold T (`Line.service_level_seconds`, waits of
  exactly T count as within): answered within T / answered, and answered within T / offered
  (abandons and other exits included).
- *Average speed of answer*: mean wait of answered calls. *Longest wait*: the longest time any
  offered call spent in the queue (answered or not). *Abandonment rate*: abandoned / offered.

Calls whose outcome was never written (a lost status callback) are classified from their
times, with the same short-abandon threshold, so the figures do not depend on every webhook.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from hotline.callbacks.models import ACTIVE_STATUSES, CallbackRequest, CallbackStatus
from hotline.calls.models import Call, CallDirection, CallOutcome
from hotline.cases.models import Case
from hotline.lines.models import Line
from hotline.reports import sources
from hotline.segments import is_gsm7
from hotline.timeutil import local_day, local_day_bounds, utcnow

#: Outcomes that mean the caller left the queue without an operator and without abandoning.
OTHER_EXITS = (
    CallOutcome.CALLBACK_REQUESTED,
    CallOutcome.WAIT_CAP,
    CallOutcome.VOICEMAIL,
    CallOutcome.FAILED,
)


class QueueResult(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    SHORT_ABANDON = "short_abandon"
    OTHER_EXIT = "other_exit"
    WAITING = "waiting"


def classify(call: Call, short_abandon_seconds: int) -> tuple[QueueResult, float | None]:
    """How a queued call left the queue, and how long it waited (None while still waiting)."""
    queued = call.queued_at
    if call.answered_at is not None:
        return QueueResult.ANSWERED, max(0.0, (call.answered_at - queued).total_seconds())
    if call.outcome == CallOutcome.ANSWERED:
        return QueueResult.ANSWERED, None
    if call.ended_at is None and call.outcome is None:
        return QueueResult.WAITING, None
    wait = max(0.0, ((call.ended_at or queued) - queued).total_seconds())
    if call.outcome == CallOutcome.SHORT_ABANDON:
        return QueueResult.SHORT_ABANDON, wait
    if call.outcome == CallOutcome.ABANDONED:
        return QueueResult.ABANDONED, wait
    if call.outcome in OTHER_EXITS:
        return QueueResult.OTHER_EXIT, wait
    # Ended in the queue with no recorded outcome: a hang-up, long or short by its wait.
    if wait < short_abandon_seconds:
        return QueueResult.SHORT_ABANDON, wait
    return QueueResult.ABANDONED, wait


@dataclass(frozen=True)
class CallFigures:
    """Queue figures of a set of calls (see the module docstring for the definitions)."""

    threshold_seconds: int
    offered: int = 0
    answered: int = 0
    answered_within_threshold: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    other_exits: int = 0
    waiting_now: int = 0
    #: Sum of the waits of answered calls whose wait is known (for the average).
    answer_wait_total_seconds: float = 0.0
    answer_wait_count: int = 0
    longest_wait_seconds: float | None = None

    @property
    def service_level_answered(self) -> float | None:
        """Answered within T / answered."""
        return self.answered_within_threshold / self.answered if self.answered else None

    @property
    def service_level_offered(self) -> float | None:
        """Answered within T / offered (abandons included, short abandons excluded)."""
        return self.answered_within_threshold / self.offered if self.offered else None

    @property
    def average_speed_of_answer(self) -> float | None:
        """Mean wait of answered calls, in seconds."""
        if not self.answer_wait_count:
            return None
        return self.answer_wait_total_seconds / self.answer_wait_count

    @property
    def abandonment_rate(self) -> float | None:
        """Abandoned / offered (short abandons excluded from both)."""
        return self.abandoned / self.offered if self.offered else None

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(
            service_level_answered=self.service_level_answered,
            service_level_offered=self.service_level_offered,
            average_speed_of_answer=self.average_speed_of_answer,
            abandonment_rate=self.abandonment_rate,
        )
        return data


def call_figures(calls: Iterable[Call], *, threshold_seconds: int, short_abandon_seconds: int):
    """Figures of `calls` (all queued calls of the window; pure, no database)."""
    return _figures(
        [classify(call, short_abandon_seconds) for call in calls],
        threshold_seconds=threshold_seconds,
    )


def _figures(classified: Iterable[tuple[QueueResult, float | None]], *, threshold_seconds: int):
    """call_figures from calls already classified (the day report classifies each call once)."""
    counts: Counter[QueueResult] = Counter()
    within = 0
    wait_total, wait_count = 0.0, 0
    longest: float | None = None
    for result, wait in classified:
        counts[result] += 1
        if result in (QueueResult.WAITING, QueueResult.SHORT_ABANDON) or wait is None:
            continue
        longest = wait if longest is None else max(longest, wait)
        if result == QueueResult.ANSWERED:
            wait_total += wait
            wait_count += 1
            if wait <= threshold_seconds:
                within += 1
    answered = counts[QueueResult.ANSWERED]
    abandoned = counts[QueueResult.ABANDONED]
    other = counts[QueueResult.OTHER_EXIT]
    return CallFigures(
        threshold_seconds=threshold_seconds,
        offered=answered + abandoned + other,
        answered=answered,
        answered_within_threshold=within,
        abandoned=abandoned,
        short_abandons=counts[QueueResult.SHORT_ABANDON],
        other_exits=other,
        waiting_now=counts[QueueResult.WAITING],
        answer_wait_total_seconds=wait_total,
        answer_wait_count=wait_count,
        longest_wait_seconds=longest,
    )


def queued_calls(session: Session, line_id: int, start: datetime, end: datetime) -> list[Call]:
    """Inbound calls of the line that reached the queue in [start, end).

    Rows with only the columns the figures read (queued_at, answered_at, ended_at, outcome,
    scenario), read like a Call: a busy day has tens of thousands of calls, and building a full
    ORM object for each was most of the daily summary's time. Read through the session's
    connection (Core): the ORM's result handling is not needed for plain rows."""
    rows = session.connection().execute(
        select(Call.queued_at, Call.answered_at, Call.ended_at, Call.outcome, Call.scenario).where(
            Call.line_id == line_id,
            Call.direction == CallDirection.INBOUND,
            Call.queued_at.is_not(None),
            Call.queued_at >= start,
            Call.queued_at < end,
        )
    )
    return list(rows)  # type: ignore[arg-type]  # Row has the attributes the figures read


def window_call_figures(session: Session, line: Line, start: datetime, end: datetime):
    """Call figures for calls queued in [start, end) (e.g. the last hour, for alerts)."""
    return call_figures(
        queued_calls(session, line.id, start, end),
        threshold_seconds=line.service_level_seconds,
        short_abandon_seconds=line.abandon_callback_after_seconds,
    )


@dataclass(frozen=True)
class CallbackFigures:
    done: int = 0
    pending: int = 0
    failed: int = 0
    canceled: int = 0


@dataclass(frozen=True)
class CaseFigures:
    new: int = 0
    #: Escalated in the day (or, before the cases feature records when, escalated now).
    escalated: int = 0
    #: Escalations past their deadline at the time of the report.
    overdue: int = 0
    #: Urgent or escalated cases still open at the time of the report.
    urgent_open: int = 0


@dataclass(frozen=True)
class ScenarioRow:
    """One scenario's share of the day: new cases, and calls offered / answered by menu choice."""

    code: str
    cases: int = 0
    calls_offered: int = 0
    calls_answered: int = 0


@dataclass(frozen=True)
class DayReport:
    """Everything the summary SMS and the supervisor page show for one line and local day."""

    line_id: int
    local_day: date
    timezone: str
    calls: CallFigures
    callbacks: CallbackFigures
    cases: CaseFigures
    scenarios: list[ScenarioRow] = field(default_factory=list)

    @property
    def top_scenarios(self) -> list[tuple[str, int]]:
        """Scenarios by new cases, most first (ties: by code), only those with cases."""
        rows = sorted(self.scenarios, key=lambda r: (-r.cases, r.code))
        return [(r.code, r.cases) for r in rows if r.cases]

    def as_dict(self) -> dict:
        return {
            "line_id": self.line_id,
            "local_day": self.local_day.isoformat(),
            "calls": self.calls.as_dict(),
            "callbacks": asdict(self.callbacks),
            "cases": asdict(self.cases),
            "scenarios": [asdict(r) for r in self.scenarios],
        }


def callback_figures(session: Session, line_id: int, start: datetime, end: datetime):
    """Callbacks completed (done), given up (failed) or canceled in [start, end); pending now."""

    def finished(status: CallbackStatus) -> int:
        when = func.coalesce(CallbackRequest.completed_at, CallbackRequest.updated_at)
        return session.scalar(
            select(func.count())
            .select_from(CallbackRequest)
            .where(
                CallbackRequest.line_id == line_id,
                CallbackRequest.status == status,
                when >= start,
                when < end,
            )
        )

    pending = session.scalar(
        select(func.count())
        .select_from(CallbackRequest)
        .where(CallbackRequest.line_id == line_id, CallbackRequest.status.in_(ACTIVE_STATUSES))
    )
    return CallbackFigures(
        done=finished(CallbackStatus.DONE),
        pending=pending,
        failed=finished(CallbackStatus.FAILED),
        canceled=finished(CallbackStatus.CANCELED),
    )


def case_figures(session: Session, line_id: int, start: datetime, end: datetime, now: datetime):
    new = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.line_id == line_id, Case.created_at >= start, Case.created_at < end)
    )
    return CaseFigures(
        new=new,
        escalated=sources.escalated_count(session, line_id, start, end),
        overdue=len(sources.overdue_escalations(session, now, line_id)),
        urgent_open=len(sources.urgent_or_escalated_cases(session, line_id)),
    )


def scenario_rows(
    session: Session,
    line: Line,
    start: datetime,
    end: datetime,
    calls: list[Call],
    classified: list[tuple[QueueResult, float | None]] | None = None,
) -> list[ScenarioRow]:
    """Per scenario: cases opened in the window and queued calls by the menu's scenario
    (`classified`: the calls' `classify` results, when the caller has them already)."""
    offered: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    if classified is None:
        classified = [classify(call, line.abandon_callback_after_seconds) for call in calls]
    for call, (result, _wait) in zip(calls, classified, strict=True):
        code = call.scenario or "other"
        if result in (QueueResult.ANSWERED, QueueResult.ABANDONED, QueueResult.OTHER_EXIT):
            offered[code] += 1
        if result == QueueResult.ANSWERED:
            answered[code] += 1
    return _scenario_rows(_cases_by_scenario(session, line, start, end), offered, answered)


def _cases_by_scenario(session: Session, line: Line, start: datetime, end: datetime):
    """Cases opened on the line in [start, end), by scenario."""
    return dict(
        session.execute(
            select(Case.scenario, func.count())
            .where(Case.line_id == line.id, Case.created_at >= start, Case.created_at < end)
            .group_by(Case.scenario)
        ).all()
    )


def _scenario_rows(
    cases: dict[str, int], offered: Counter[str], answered: Counter[str]
) -> list[ScenarioRow]:
    codes = sorted(set(cases) | set(offered), key=lambda c: (c == "other", c))
    return [ScenarioRow(code, cases.get(code, 0), offered[code], answered[code]) for code in codes]


def day_report(session: Session, line: Line, day: date, *, now: datetime | None = None):
    """The report of `line` for local `day` (snapshot figures taken at `now`)."""
    now = now or utcnow()
    start, end = local_day_bounds(day, line.timezone)
    calls, offered, answered = aggregated_call_figures(session, line, start, end)
    return DayReport(
        line_id=line.id,
        local_day=day,
        timezone=line.timezone,
        calls=calls,
        callbacks=callback_figures(session, line.id, start, end),
        cases=case_figures(session, line.id, start, end, now),
        scenarios=_scenario_rows(_cases_by_scenario(session, line, start, end), offered, answered),
    )


def _seconds_between(session: Session, later, earlier):
    """SQL for `later - earlier` in seconds (to the millisecond on SQLite, which stores text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)


def aggregated_call_figures(
    session: Session, line: Line, start: datetime, end: datetime
) -> tuple[CallFigures, Counter[str], Counter[str]]:
    """`call_figures` of the calls queued in [start, end), and the calls offered and answered
    per scenario, computed by the database: `classify` as a CASE expression, then one GROUP BY
    (scenario, result) of at most a few dozen rows, so a busy day costs the index range scan,
    not a Python object and a classification per call (issue 16)."""
    short = line.abandon_callback_after_seconds
    threshold = line.service_level_seconds
    ended_wait = _seconds_between(
        session, func.coalesce(Call.ended_at, Call.queued_at), Call.queued_at
    )
    answered_wait = _seconds_between(session, Call.answered_at, Call.queued_at)
    unfinished = and_(Call.ended_at.is_(None), Call.outcome.is_(None))
    result = case(
        (Call.answered_at.is_not(None), QueueResult.ANSWERED.value),
        (Call.outcome == CallOutcome.ANSWERED, QueueResult.ANSWERED.value),
        (unfinished, QueueResult.WAITING.value),
        (Call.outcome == CallOutcome.SHORT_ABANDON, QueueResult.SHORT_ABANDON.value),
        (Call.outcome == CallOutcome.ABANDONED, QueueResult.ABANDONED.value),
        (Call.outcome.in_(OTHER_EXITS), QueueResult.OTHER_EXIT.value),
        (ended_wait < short, QueueResult.SHORT_ABANDON.value),
        else_=QueueResult.ABANDONED.value,
    ).label("result")
    wait = case(
        (Call.answered_at.is_not(None), answered_wait),
        (Call.outcome == CallOutcome.ANSWERED, None),
        (unfinished, None),
        else_=ended_wait,
    ).label("wait")
    rows = (
        select(func.coalesce(Call.scenario, "other").label("scenario"), result, wait)
        .where(
            Call.line_id == line.id,
            Call.direction == CallDirection.INBOUND,
            Call.queued_at.is_not(None),
            Call.queued_at >= start,
            Call.queued_at < end,
        )
        .subquery()
    )
    # Negative waits (clock skew between rows) count as 0, as `classify` has them.
    kept = case((rows.c.wait < 0, 0.0), else_=rows.c.wait)
    grouped = session.connection().execute(
        select(
            rows.c.scenario,
            rows.c.result,
            func.count(),
            func.count(kept),
            func.sum(kept),
            func.sum(case((kept <= threshold, 1), else_=0)),
            func.max(kept),
        ).group_by(rows.c.scenario, rows.c.result)
    )
    counts: Counter[QueueResult] = Counter()
    offered: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    within = 0
    wait_total, wait_count = 0.0, 0
    longest: float | None = None
    for scenario, raw, number, with_wait, total, in_time, most in grouped:
        outcome = QueueResult(raw)
        counts[outcome] += number
        if outcome in (QueueResult.ANSWERED, QueueResult.ABANDONED, QueueResult.OTHER_EXIT):
            offered[scenario] += number
        if outcome == QueueResult.ANSWERED:
            answered[scenario] += number
        if outcome in (QueueResult.WAITING, QueueResult.SHORT_ABANDON) or not with_wait:
            continue
        longest = float(most) if longest is None else max(longest, float(most))
        if outcome == QueueResult.ANSWERED:
            wait_total += float(total)
            wait_count += with_wait
            within += int(in_time or 0)
    figures = CallFigures(
        threshold_seconds=threshold,
        offered=counts[QueueResult.ANSWERED]
        + counts[QueueResult.ABANDONED]
        + counts[QueueResult.OTHER_EXIT],
        answered=counts[QueueResult.ANSWERED],
        answered_within_threshold=within,
        abandoned=counts[QueueResult.ABANDONED],
        short_abandons=counts[QueueResult.SHORT_ABANDON],
        other_exits=counts[QueueResult.OTHER_EXIT],
        waiting_now=counts[QueueResult.WAITING],
        answer_wait_total_seconds=wait_total,
        answer_wait_count=wait_count,
        longest_wait_seconds=longest,
    )
    return figures, offered, answered


def today_report(session: Session, line: Line, *, now: datetime | None = None) -> DayReport:
    now = now or utcnow()
    return day_report(session, line, local_day(now, line.timezone), now=now)


@dataclass(frozen=True)
class TrendDay:
    day: date
    calls: CallFigures


def trend(session: Session, line: Line, *, days: int = 7, now: datetime | None = None):
    """Call figures of the last `days` local days, oldest first, today last (one query)."""
    now = now or utcnow()
    today = local_day(now, line.timezone)
    first = today - timedelta(days=days - 1)
    start, _ = local_day_bounds(first, line.timezone)
    _, end = local_day_bounds(today, line.timezone)
    by_day: dict[date, list[Call]] = {first + timedelta(days=i): [] for i in range(days)}
    for call in queued_calls(session, line.id, start, end):
        by_day.setdefault(local_day(call.queued_at, line.timezone), []).append(call)
    return [
        TrendDay(
            day,
            call_figures(
                by_day[day],
                threshold_seconds=line.service_level_seconds,
                short_abandon_seconds=line.abandon_callback_after_seconds,
            ),
        )
        for day in sorted(by_day)
    ]


@dataclass(frozen=True)
class LiveNumbers:
    """The queue right now: callers waiting, the longest current wait, operators free."""

    waiting: int
    longest_wait_seconds: float | None
    available_operators: int


def live_numbers(session: Session, line: Line) -> LiveNumbers:
    """Live queue numbers of `line` (the queue feature's snapshot)."""
    waiting, longest_wait_seconds, available_operators = sources.live_snapshot(session, line)
    return LiveNumbers(waiting, longest_wait_seconds, available_operators)


def active_lines(session: Session) -> list[Line]:
    return list(session.scalars(select(Line).where(Line.is_active).order_by(Line.id)))


def line_labels(session: Session, line: Line) -> tuple[str | None, str | None]:
    """How texts name the line: (Chinese, English), or (None, None) when the deployment has
    only one line (the supervisor knows which). English uses the line's key when the name is
    not GSM text, so English texts stay in 160-character GSM segments."""
    if len(active_lines(session)) <= 1:
        return None, None
    return line.name, (line.name if is_gsm7(line.name) else line.key)


def callback_failures(session: Session, line_id: int, since: datetime) -> tuple[int, int]:
    """(callbacks not getting through, callbacks given up) on the line since `since`.

    Not getting through: a pending callback with an attempt since then that did not reach a
    person, or a callback given up (status failed) since then.
    """
    given_up = session.scalar(
        select(func.count())
        .select_from(CallbackRequest)
        .where(
            CallbackRequest.line_id == line_id,
            CallbackRequest.status == CallbackStatus.FAILED,
            func.coalesce(CallbackRequest.completed_at, CallbackRequest.updated_at) >= since,
        )
    )
    failing = sources.callbacks_with_failed_attempts(session, line_id, since)
    return failing + given_up, given_up
