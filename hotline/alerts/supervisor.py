"""Supervisor alerts: raised once per condition and window, recovered once.

An alert episode is a `SupervisorAlert` row. When a condition fires and its key has no active
episode, one is inserted and the alert text queued for every registered supervisor in the same
transaction; the partial unique index on active keys makes a second clock's insert fail, so the
alert goes out once. A key raises again no sooner than `ALERT_WINDOW_SECONDS` after its previous
episode was raised (a flapping condition does not text every minute). When a condition that was
checked no longer fires, the episode is closed with a conditional UPDATE and the one recovery
text is queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.alerts import conditions
from hotline.alerts.quiet import held_until
from hotline.alerts.settings import alert_settings
from hotline.cases.lifecycle import mark_overdue_alerted
from hotline.cases.models import Case
from hotline.lines.models import Line
from hotline.sms import texts
from hotline.sms.models import AlertKind, SmsPurpose, SupervisorAlert
from hotline.sms.outbox import queue_sms, send_due
from hotline.sms.recipients import recipients_for
from hotline.sms.texts import Head
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def _alert_args(kind: AlertKind, details: dict[str, Any], lang: str) -> dict[str, Any]:
    if kind == AlertKind.LONG_WAIT:
        keys = ("line_name", "longest_wait_seconds", "waiting", "available_operators")
    elif kind == AlertKind.SERVICE_LEVEL:
        keys = ("line_name", "threshold_seconds", "service_level", "target", "offered")
    elif kind == AlertKind.CALLBACKS_FAILING:
        keys = ("line_name", "failures", "given_up")
    elif kind == AlertKind.URGENT_CASE:
        keys = ("scenario", "is_escalated", "summary")
    elif kind == AlertKind.OVERDUE_ESCALATION:
        keys = ("overdue_hours",)
    else:
        keys = ("silent_seconds",)
    return {k: _detail(details, k, lang) for k in keys}


def _recovery_args(kind: AlertKind, details: dict[str, Any], lang: str) -> dict[str, Any]:
    if kind == AlertKind.LONG_WAIT:
        keys = ("line_name", "limit_seconds")
    elif kind == AlertKind.SERVICE_LEVEL:
        keys = ("line_name", "threshold_seconds", "service_level", "target")
    elif kind == AlertKind.CALLBACKS_FAILING:
        keys = ("line_name",)
    else:
        keys = ()
    return {k: _detail(details, k, lang) for k in keys}


def _detail(details: dict[str, Any], key: str, lang: str) -> Any:
    if key == "line_name" and lang == texts.EN:
        return details.get("line_name_en")
    return details.get(key)


_RENDER: dict[AlertKind, tuple[Callable[..., str], Callable[..., str]]] = {
    AlertKind.LONG_WAIT: (texts.alert_long_wait, texts.recovered_long_wait),
    AlertKind.SERVICE_LEVEL: (texts.alert_service_level, texts.recovered_service_level),
    AlertKind.CALLBACKS_FAILING: (texts.alert_callbacks_failing, texts.recovered_callbacks_failing),
    AlertKind.URGENT_CASE: (texts.alert_urgent_case, texts.recovered_urgent_case),
    AlertKind.OVERDUE_ESCALATION: (
        texts.alert_overdue_escalation,
        texts.recovered_overdue_escalation,
    ),
    AlertKind.CLOCK_SILENT: (texts.alert_clock_silent, texts.recovered_clock_silent),
}


@dataclass
class AlertChanges:
    raised: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)


def _timezone(session: Session, line_id: int | None) -> str:
    line = session.get(Line, line_id) if line_id is not None else None
    return (
        line.timezone
        if line is not None
        else current_app.config.get("HOTLINE_TIMEZONE", "Asia/Shanghai")
    )


def _queue_for_supervisors(
    session: Session,
    alert: SupervisorAlert,
    *,
    is_recovery: bool,
    details: dict[str, Any],
    now: datetime,
) -> list[int]:
    render = _RENDER[alert.kind][1 if is_recovery else 0]
    head = Head(now, _timezone(session, alert.line_id), details.get("case_number"))
    line = session.get(Line, alert.line_id) if alert.line_id is not None else None
    send_after = held_until(line, alert.kind, now)
    ids = []
    for supervisor in recipients_for(session, alert.line_id, alert.kind.value):
        lang = texts.staff_language(supervisor.console_language)
        args = (_recovery_args if is_recovery else _alert_args)(alert.kind, details, lang)
        message = queue_sms(
            session,
            to=supervisor.phone_number,
            body=render(lang, head, **args),
            purpose=SmsPurpose.SUPERVISOR_ALERT,
            line_id=alert.line_id,
            case_id=alert.case_id,
            operator_id=supervisor.id,
            kind=render.__name__,
            language=lang,
            send_after=send_after,
        )
        ids.append(message.id)
    return ids


def sync_alerts(
    session: Session, found: conditions.Observations, *, now: datetime | None = None
) -> AlertChanges:
    """Raise the alerts that fire and recover the ones that cleared (commits each change: an
    episode is a claim other clocks must see at once)."""
    now = now or utcnow()
    changes = AlertChanges()
    window = timedelta(seconds=alert_settings().window_seconds)
    firing = {o.key: o for o in found.items if o.is_firing}
    quiet = {o.key: o for o in found.items if not o.is_firing}

    active = {
        a.key: a for a in session.scalars(select(SupervisorAlert).where(SupervisorAlert.is_active))
    }
    for key, observation in firing.items():
        if key in active:
            continue
        last_raised = session.scalar(
            select(func.max(SupervisorAlert.raised_at)).where(SupervisorAlert.key == key)
        )
        if last_raised is not None and now - last_raised < window:
            continue  # raised within the window already: one alert per condition per window
        alert = SupervisorAlert(
            key=key,
            kind=observation.kind,
            line_id=observation.line_id,
            case_id=observation.case_id,
            raised_at=now,
            details=_jsonable(observation.details),
        )
        session.add(alert)
        try:
            session.flush()
            ids = _queue_for_supervisors(
                session, alert, is_recovery=False, details=observation.details, now=now
            )
            if observation.kind == AlertKind.OVERDUE_ESCALATION:
                case = session.get(Case, observation.case_id)
                if case is not None:
                    mark_overdue_alerted(session, case, now)
            # An episode is a claim (the exception to "the job commits once"): the partial
            # unique index makes a second clock's insert fail here, so the alert goes out once.
            session.commit()
        except IntegrityError:
            session.rollback()  # another clock raised it at the same moment
            continue
        changes.raised.append(key)
        changes.message_ids += ids
        log.warning("alert raised: %s %s", key, observation.details)

    for key, alert in active.items():
        if key in firing or not found.covers(key):
            continue
        result = session.execute(
            update(SupervisorAlert)
            .where(SupervisorAlert.id == alert.id, SupervisorAlert.is_active)
            .values(is_active=False, recovered_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            session.rollback()
            continue
        details = {**alert.details, **(quiet[key].details if key in quiet else {})}
        ids = _queue_for_supervisors(session, alert, is_recovery=True, details=details, now=now)
        # The conditional UPDATE is a claim: durable at once, so one clock sends the recovery.
        session.commit()
        changes.recovered.append(key)
        changes.message_ids += ids
        log.info("alert recovered: %s", key)
    return changes


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if isinstance(v, str | int | float | bool | None)}


def run_alerts(session: Session, *, now: datetime | None = None) -> AlertChanges:
    """Observe every condition and bring the alerts up to date (the clock's job)."""
    now = now or utcnow()
    return sync_alerts(session, conditions.observe_all(session, now), now=now)


def check_clock(session: Session, *, clock: str, now: datetime | None = None) -> AlertChanges:
    """The clock-silent check, for callers outside the clock (a web request, `flask sms
    check-clock` from cron): raises or recovers the alert and, because the clock that normally
    sends texts is the thing that is silent, sends the resulting texts right away through the
    outbox (claimed like any other row, so never twice)."""
    now = now or utcnow()
    found = conditions.Observations()
    conditions.observe_clock(session, now, found)
    changes = sync_alerts(session, found, now=now)
    if changes.message_ids:
        # Now, not `now`: the texts were queued a moment after it and are due from then.
        send_due(session, clock=clock, ids=changes.message_ids)
    return changes


def active_alerts(session: Session) -> list[SupervisorAlert]:
    """The alert episodes not yet recovered, oldest first."""
    return list(
        session.scalars(
            select(SupervisorAlert)
            .where(SupervisorAlert.is_active)
            .order_by(SupervisorAlert.raised_at)
        )
    )
