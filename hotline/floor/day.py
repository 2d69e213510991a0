"""The operator's day (or week) in figures, computed in SQL.

Per operator, in a window [start, end):

- *calls handled*: the callers the operator talked to, from their stretches of talk
  (`hotline.queue.models.OperatorTalk`, finished, started in the window): one per caller
  (queue entry) however many stretches; after a warm hand-over the call counts for both
  operators, and a caller the same operator took again (a cold transfer nobody answered sent
  them back to the queue) counts once;
- *talk time*: each operator's own stretches only (`ended_at - started_at`): the first
  operator's until they handed over or left on a transfer, the colleague's from when they
  joined; the average per call handled, and the longest call (an operator's stretches with
  the same caller added up);
- *wrap-up time*: the finished wrap-up periods of the presence log (`PresenceLog`, state
  wrap_up) that started in the window: the average (an overdue wrap-up ended at its deadline;
  one still going on counts once it has ended);
- *callbacks placed*: callbacks the operator scheduled in the window; *reached*: those of them
  that reached the caller (done, or connected to the queue right now);
- *transfers*: external transfers the operator started (`transfer_counts`, from
  `hotline.transfers.models.ExternalTransfer`); *reached*: those of them the outside party
  answered;
- *cases opened*: cases the operator opened in the window; *resolved*: the "resolved" entries
  of the audit trail the operator wrote in the window (a case resolved twice counts twice).

Each figure is one grouped query (`GROUP BY operator`), never a loop over rows; `assemble` is
the pure function that puts the grouped rows together (tested against a hand-computed day).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hotline.callbacks.models import CallbackRequest, CallbackStatus
from hotline.cases.models import AuditEntry, Case
from hotline.operators.models import Operator, Presence, PresenceLog
from hotline.queue.models import OperatorTalk
from hotline.timeutil import local_day_bounds
from hotline.transfers.models import ExternalTransfer

#: Callback statuses that mean the caller was reached.
REACHED = (CallbackStatus.DONE, CallbackStatus.CONNECTED)
PERIODS = ("day", "week")


@dataclass(frozen=True)
class OperatorDay:
    """One operator's figures for the window."""

    operator_id: int
    name: str
    calls_handled: int = 0
    talk_seconds: int = 0  # all conversations together
    longest_call_seconds: int = 0
    wrap_ups: int = 0
    wrap_up_seconds: int = 0  # all wrap-ups together
    callbacks_placed: int = 0
    callbacks_reached: int = 0
    transfers: int = 0
    cases_opened: int = 0
    cases_resolved: int = 0
    transfers_reached: int = 0  # of `transfers`, those the outside party answered

    @property
    def average_talk_seconds(self) -> int | None:
        return round(self.talk_seconds / self.calls_handled) if self.calls_handled else None

    @property
    def average_wrap_up_seconds(self) -> int | None:
        return round(self.wrap_up_seconds / self.wrap_ups) if self.wrap_ups else None

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "average_talk_seconds": self.average_talk_seconds,
            "average_wrap_up_seconds": self.average_wrap_up_seconds,
        }


#: The grouped rows `assemble` reads: operator id -> numbers.
Counts = Mapping[int, int]


def assemble(
    operators: Iterable[tuple[int, str]],
    *,
    calls: Mapping[int, tuple[int, float, float]],
    wrap_ups: Mapping[int, tuple[int, float]],
    callbacks: Mapping[int, tuple[int, int]],
    transfers: Mapping[int, tuple[int, int]],
    cases_opened: Counts,
    cases_resolved: Counts,
    keep_empty: bool = False,
) -> list[OperatorDay]:
    """Each operator's day from the grouped rows: calls (count, talk seconds, longest),
    wrap-ups (count, seconds), callbacks (placed, reached), transfers (started, reached), and
    the plain counts. Operators
    with nothing at all in the window are left out (unless `keep_empty`). Pure."""
    days = []
    for operator_id, name in operators:
        handled, talk, longest = calls.get(operator_id, (0, 0, 0))
        wraps, wrap_seconds = wrap_ups.get(operator_id, (0, 0))
        placed, reached = callbacks.get(operator_id, (0, 0))
        transferred, transfers_reached = transfers.get(operator_id, (0, 0))
        day = OperatorDay(
            operator_id=operator_id,
            name=name,
            calls_handled=int(handled),
            talk_seconds=round(talk or 0),
            longest_call_seconds=round(longest or 0),
            wrap_ups=int(wraps),
            wrap_up_seconds=round(wrap_seconds or 0),
            callbacks_placed=int(placed),
            callbacks_reached=int(reached or 0),
            transfers=int(transferred),
            transfers_reached=int(transfers_reached or 0),
            cases_opened=int(cases_opened.get(operator_id, 0)),
            cases_resolved=int(cases_resolved.get(operator_id, 0)),
        )
        if keep_empty or any(
            (
                day.calls_handled,
                day.wrap_ups,
                day.callbacks_placed,
                day.transfers,
                day.cases_opened,
                day.cases_resolved,
            )
        ):
            days.append(day)
    return days


# --------------------------------------------------------------------------- the window


def window(day: date, period: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local day, or of the Monday-to-Sunday week holding it."""
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return local_day_bounds(monday, timezone)[0], local_day_bounds(
            monday + timedelta(days=6), timezone
        )[1]
    return local_day_bounds(day, timezone)


# --------------------------------------------------------------------------- the queries


def seconds_between(session: Session, start, end) -> ColumnElement:
    """`end - start` in seconds, in SQL, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _scope(query, column, operator_id: int | None):
    return query.where(column == operator_id) if operator_id is not None else query


def _calls(session: Session, start: datetime, end: datetime, operator_id: int | None):
    """One row per (operator, caller) of the window: the operator's talk seconds with that
    caller (their finished stretches started in the window, added up) and when the first
    began."""
    talk = seconds_between(session, OperatorTalk.started_at, OperatorTalk.ended_at)
    query = (
        select(
            OperatorTalk.operator_id.label("operator_id"),
            func.sum(talk).label("seconds"),
            func.min(OperatorTalk.started_at).label("first"),
        )
        .where(
            OperatorTalk.started_at >= start,
            OperatorTalk.started_at < end,
            OperatorTalk.ended_at.is_not(None),
        )
        .group_by(OperatorTalk.operator_id, OperatorTalk.queue_entry_id)
    )
    return _scope(query, OperatorTalk.operator_id, operator_id).subquery()


def call_counts(
    session: Session, start: datetime, end: datetime, operator_id: int | None = None
) -> dict[int, tuple[int, float, float]]:
    """Operator -> (calls handled, talk seconds, longest call), from their own stretches of
    talk started in the window."""
    calls = _calls(session, start, end, operator_id)
    query = select(
        calls.c.operator_id, func.count(), func.sum(calls.c.seconds), func.max(calls.c.seconds)
    ).group_by(calls.c.operator_id)
    return {
        op: (n, float(total or 0), float(most or 0))
        for op, n, total, most in session.execute(query)
    }


def wrap_up_counts(
    session: Session, start: datetime, end: datetime, operator_id: int | None = None
) -> dict[int, tuple[int, float]]:
    """Operator -> (wrap-ups, seconds), wrap-ups that started in the window."""
    length = seconds_between(session, PresenceLog.since, PresenceLog.until)
    query = (
        select(PresenceLog.operator_id, func.count(), func.sum(length))
        .where(
            PresenceLog.state == Presence.WRAP_UP,
            PresenceLog.since >= start,
            PresenceLog.since < end,
        )
        .group_by(PresenceLog.operator_id)
    )
    query = _scope(query, PresenceLog.operator_id, operator_id)
    return {op: (n, float(total or 0)) for op, n, total in session.execute(query)}


def callback_counts(
    session: Session, start: datetime, end: datetime, operator_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """Operator -> (callbacks they scheduled in the window, of which reached the caller)."""
    query = (
        select(
            CallbackRequest.requested_by_operator_id,
            func.count(),
            func.sum(case((CallbackRequest.status.in_(REACHED), 1), else_=0)),
        )
        .where(
            CallbackRequest.requested_by_operator_id.is_not(None),
            CallbackRequest.created_at >= start,
            CallbackRequest.created_at < end,
        )
        .group_by(CallbackRequest.requested_by_operator_id)
    )
    query = _scope(query, CallbackRequest.requested_by_operator_id, operator_id)
    return {op: (n, int(reached or 0)) for op, n, reached in session.execute(query)}


def transfer_counts(
    session: Session, start: datetime, end: datetime, operator_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """Operator -> (external transfers (agencies, 120/110/119) they started in the window, of
    which the outside party answered)."""
    reached = func.sum(case((ExternalTransfer.answered_at.is_not(None), 1), else_=0))
    query = (
        select(ExternalTransfer.operator_id, func.count(), reached)
        .where(
            ExternalTransfer.operator_id.is_not(None),
            ExternalTransfer.started_at >= start,
            ExternalTransfer.started_at < end,
        )
        .group_by(ExternalTransfer.operator_id)
    )
    query = _scope(query, ExternalTransfer.operator_id, operator_id)
    return {op: (n, int(answered or 0)) for op, n, answered in session.execute(query)}


def case_counts(
    session: Session, start: datetime, end: datetime, operator_id: int | None = None
) -> tuple[dict[int, int], dict[int, int]]:
    """(operator -> cases opened, operator -> cases resolved) in the window."""
    opened = (
        select(Case.opened_by_id, func.count())
        .where(Case.opened_by_id.is_not(None), Case.created_at >= start, Case.created_at < end)
        .group_by(Case.opened_by_id)
    )
    resolved = (
        select(AuditEntry.operator_id, func.count())
        .where(
            AuditEntry.entity == "case",
            AuditEntry.action == "resolved",
            AuditEntry.operator_id.is_not(None),
            AuditEntry.occurred_at >= start,
            AuditEntry.occurred_at < end,
        )
        .group_by(AuditEntry.operator_id)
    )
    opened = _scope(opened, Case.opened_by_id, operator_id)
    resolved = _scope(resolved, AuditEntry.operator_id, operator_id)
    return (
        dict(session.execute(opened).all()),
        dict(session.execute(resolved).all()),
    )


def calls_by_hour(
    session: Session,
    start: datetime,
    end: datetime,
    timezone: str,
    operator_id: int | None = None,
) -> dict[int, int]:
    """Local hour (0-23) -> calls handled (as `call_counts` counts them: one per operator and
    caller) by the hour the operator's talk with the caller began, in the window. On SQLite
    the UTC offset at the start of the window is used (exact for zones without daylight
    saving, such as China's); PostgreSQL converts each time in the zone."""
    calls = _calls(session, start, end, operator_id)
    column = calls.c.first
    if session.get_bind().dialect.name == "postgresql":
        hour = func.extract("hour", func.timezone(timezone, column))
    else:
        offset = start.astimezone(ZoneInfo(timezone)).utcoffset() or timedelta(0)
        hour = func.strftime("%H", column, f"{int(offset.total_seconds()):+d} seconds")
    query = select(hour, func.count()).group_by(hour)
    return {int(h): n for h, n in session.execute(query).all()}


def operator_days(
    session: Session, start: datetime, end: datetime, *, operator_id: int | None = None
) -> list[OperatorDay]:
    """Every operator's figures in the window, by name (operators with nothing in it left
    out); only `operator_id`'s when given (zeros included)."""
    people = select(Operator.id, Operator.display_name, Operator.username).order_by(
        Operator.display_name, Operator.username
    )
    if operator_id is not None:
        people = people.where(Operator.id == operator_id)
    operators = [(op, name or username) for op, name, username in session.execute(people)]
    opened, resolved = case_counts(session, start, end, operator_id)
    return assemble(
        operators,
        calls=call_counts(session, start, end, operator_id),
        wrap_ups=wrap_up_counts(session, start, end, operator_id),
        callbacks=callback_counts(session, start, end, operator_id),
        transfers=transfer_counts(session, start, end, operator_id),
        cases_opened=opened,
        cases_resolved=resolved,
        keep_empty=operator_id is not None,
    )
