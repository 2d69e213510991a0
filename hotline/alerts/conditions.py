"""Alert conditions: what is wrong right now, per line (pure reads; sending is
hotline.alerts.supervisor).

Each condition is observed with a stable key. Line-wide conditions are always observed (firing
or not, with the figures a recovery text needs); per-case conditions are observed only for the
cases that fire, and the scope they were checked for tells which earlier alerts have cleared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hotline.alerts.settings import alert_settings
from hotline.cases.models import Case
from hotline.lines.models import Line
from hotline.reports import metrics, sources
from hotline.sms.models import AlertKind

SERVICE_LEVEL_WINDOW = timedelta(hours=1)
CALLBACK_FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Observation:
    """One condition as seen now."""

    key: str
    kind: AlertKind
    is_firing: bool
    line_id: int | None = None
    case_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observations:
    """Everything observed in one pass: the scopes checked, and the observations."""

    scopes: set[str] = field(default_factory=set)
    items: list[Observation] = field(default_factory=list)

    def add(self, observation: Observation) -> None:
        self.items.append(observation)

    def covers(self, key: str) -> bool:
        """True when `key` belongs to a scope that was checked in this pass."""
        return any(key == scope or key.startswith(scope + ":") for scope in self.scopes)


def _scope(kind: AlertKind, line: Line) -> str:
    return f"{kind.value}:line:{line.id}"


def observe_line(session: Session, line: Line, now: datetime, found: Observations) -> None:
    """Observe every line-level and per-case condition of `line`."""
    zh_name, en_name = metrics.line_labels(session, line)
    names = {"line_name": zh_name, "line_name_en": en_name}

    # A caller waiting longer than the limit.
    settings = alert_settings()
    limit = settings.long_wait_seconds
    live = metrics.live_numbers(session, line)
    scope = _scope(AlertKind.LONG_WAIT, line)
    found.scopes.add(scope)
    found.add(
        Observation(
            key=scope,
            kind=AlertKind.LONG_WAIT,
            is_firing=(live.longest_wait_seconds or 0) > limit,
            line_id=line.id,
            details={
                **names,
                "longest_wait_seconds": live.longest_wait_seconds or 0,
                "waiting": live.waiting,
                "available_operators": live.available_operators,
                "limit_seconds": limit,
            },
        )
    )

    # Service level (answered within T of offered) below target over the last hour.
    figures = metrics.window_call_figures(session, line, now - SERVICE_LEVEL_WINDOW, now)
    target = settings.service_level_target
    level = figures.service_level_offered
    scope = _scope(AlertKind.SERVICE_LEVEL, line)
    found.scopes.add(scope)
    found.add(
        Observation(
            key=scope,
            kind=AlertKind.SERVICE_LEVEL,
            is_firing=(
                figures.offered >= settings.service_level_min_calls
                and level is not None
                and level < target
            ),
            line_id=line.id,
            details={
                **names,
                "threshold_seconds": figures.threshold_seconds,
                "service_level": level,
                "target": target,
                "offered": figures.offered,
            },
        )
    )

    # Callbacks failing repeatedly.
    failures, given_up = metrics.callback_failures(session, line.id, now - CALLBACK_FAILURE_WINDOW)
    scope = _scope(AlertKind.CALLBACKS_FAILING, line)
    found.scopes.add(scope)
    found.add(
        Observation(
            key=scope,
            kind=AlertKind.CALLBACKS_FAILING,
            is_firing=failures >= settings.callback_failures,
            line_id=line.id,
            details={**names, "failures": failures, "given_up": given_up},
        )
    )

    # Urgent or escalated cases (one alert each).
    scope = _scope(AlertKind.URGENT_CASE, line)
    found.scopes.add(scope)
    for case in sources.urgent_or_escalated_cases(session, line.id):
        found.add(
            Observation(
                key=f"{scope}:case:{case.id}",
                kind=AlertKind.URGENT_CASE,
                is_firing=True,
                line_id=line.id,
                case_id=case.id,
                details=_case_details(case),
            )
        )

    # Escalations past their deadline (one alert each).
    scope = _scope(AlertKind.OVERDUE_ESCALATION, line)
    found.scopes.add(scope)
    for case, overdue_seconds in sources.overdue_escalations(session, now, line.id):
        found.add(
            Observation(
                key=f"{scope}:case:{case.id}",
                kind=AlertKind.OVERDUE_ESCALATION,
                is_firing=True,
                line_id=line.id,
                case_id=case.id,
                details={
                    **_case_details(case),
                    "overdue_hours": None if overdue_seconds is None else overdue_seconds / 3600,
                },
            )
        )


def _case_details(case: Case) -> dict[str, Any]:
    return {
        "case_number": case.number,
        "scenario": case.scenario,
        "is_escalated": sources.case_is_escalated(case),
        "summary": (case.summary or "")[:200],
    }


def observe_clock(session: Session, now: datetime, found: Observations) -> None:
    """The clock process silent for longer than ALERT_CLOCK_SILENT_SECONDS."""
    last = sources.clock_last_heartbeat(session)
    limit = alert_settings().clock_silent_seconds
    silent = None if last is None else max(0.0, (now - last).total_seconds())
    found.scopes.add(AlertKind.CLOCK_SILENT.value)
    found.add(
        Observation(
            key=AlertKind.CLOCK_SILENT.value,
            kind=AlertKind.CLOCK_SILENT,
            # Never seen at all is not "silent": there is nothing to compare with yet (the
            # supervisor page shows "never seen" instead).
            is_firing=silent is not None and silent > limit,
            details={"silent_seconds": silent, "last_seen_at": last.isoformat() if last else None},
        )
    )


def observe_all(session: Session, now: datetime, *, include_clock: bool = True) -> Observations:
    """Every condition of every active line (and the clock)."""
    found = Observations()
    for line in metrics.active_lines(session):
        observe_line(session, line, now, found)
    if include_clock:
        observe_clock(session, now, found)
    return found
