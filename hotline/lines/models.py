"""Lines: a hotline number with its scripts, time zone, opening hours and calling window."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, event, insert, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.db import Base, created_at, intpk


class Line(Base):
    """One hotline number (a deployment may run several)."""

    __tablename__ = "lines"

    id: Mapped[intpk]
    #: Short stable name; picks the IVR scripts `ivr_scripts/<script_key>.<language>.yaml`.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    #: Name spoken and shown, e.g. "长者服务热线".
    name: Mapped[str] = mapped_column(String(120))
    #: The number callers dial, E.164.
    phone_number: Mapped[str] = mapped_column(String(32), unique=True)
    #: IVR script name (file stem before the language).
    script_key: Mapped[str] = mapped_column(String(40), default="main")
    #: Language used when the caller has no preference.
    default_language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    #: IANA time zone for hours, calling windows and reports.
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    #: Opening hours (local time) on the line's open days; equal times mean open all day.
    opens_at: Mapped[time] = mapped_column(default=time(8, 0))
    closes_at: Mapped[time] = mapped_column(default=time(20, 0))
    #: Hours per weekday, overriding opens_at/closes_at: {"0".."6" (Monday is "0"): ["08:00",
    #: "20:00"] or None (closed that weekday)}; a weekday not listed uses opens_at/closes_at, and
    #: ["00:00", "00:00"] is open all day. See hotline.lines.calendar.LineCalendar.hours_on.
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Open on every day of the year (24/7 style lines) instead of working days only.
    is_open_every_day: Mapped[bool] = mapped_column(default=False)
    #: Callbacks are placed only inside this local window, on working days.
    callback_window_start: Mapped[time] = mapped_column(default=time(8, 30))
    callback_window_end: Mapped[time] = mapped_column(default=time(20, 0))
    #: After this long in the queue the caller is offered a callback (keeping their place).
    offer_callback_after_seconds: Mapped[int] = mapped_column(default=180)
    #: Nobody waits longer than this: they are moved to voicemail and a callback.
    max_wait_seconds: Mapped[int] = mapped_column(default=1200)
    #: A caller who hangs up after waiting at least this long is called back automatically;
    #: shorter hang-ups are "short abandons", counted but excluded from abandonment rates.
    abandon_callback_after_seconds: Mapped[int] = mapped_column(default=20)
    #: A caller nobody speaking their language has taken after this long in the queue is offered
    #: to every operator on the line, their language shown (see hotline.queue.routing).
    route_to_anyone_after_seconds: Mapped[int] = mapped_column(default=120)
    #: After a call the operator wraps up for this long, then is available again by themselves
    #: (unless they extend it; see hotline.operators.presence).
    wrap_up_seconds: Mapped[int] = mapped_column(default=60)
    #: Callback retry policy: calls placed at most (the first when due, then 3 retries), and the
    #: wait after each failed one
    #: ("30m", "2h", "next_working_day"; the last entry repeats). Retries always land inside the
    #: calling window on a working day (see hotline.callbacks.policy).
    callback_max_attempts: Mapped[int] = mapped_column(default=4)
    callback_retry_delays: Mapped[str] = mapped_column(
        String(120), default="30m,2h,next_working_day"
    )
    #: Service-level threshold T (answered within T seconds).
    service_level_seconds: Mapped[int] = mapped_column(default=20)
    #: Whether operators on this line may answer in the browser (Voice JS SDK) or by phone only.
    is_browser_calling_enabled: Mapped[bool] = mapped_column(default=False)
    #: Record conversations with operators (callers hear a one-sentence notice in the greeting).
    is_recording_enabled: Mapped[bool] = mapped_column(default=False)
    #: Non-urgent alerts are held until the end of these local quiet hours (None: no quiet hours).
    quiet_hours_start: Mapped[time | None]
    quiet_hours_end: Mapped[time | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]

    @property
    def queue_name(self) -> str:
        """The Twilio queue that physically holds this line's waiting callers."""
        return f"line-{self.key}"


class CalendarOverride(Base):
    """A local exception to the national calendar (a local holiday, an extra working day)."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("line_id", "day"),)

    id: Mapped[intpk]
    #: None applies to every line of the deployment.
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    day: Mapped[date]
    #: True makes the day a working day, False a day off.
    is_working_day: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200), default="")


class LineRecipient(Base):
    """A supervisor told about one line: the daily summary and/or some alert kinds.

    A line with no rows falls back to every active supervisor and admin with a phone
    (hotline.sms.recipients), and the readiness check says so.
    """

    __tablename__ = "line_recipients"
    __table_args__ = (UniqueConstraint("line_id", "operator_id"),)

    id: Mapped[intpk]
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    gets_daily_summary: Mapped[bool] = mapped_column(default=True)
    #: Comma-separated hotline.sms.models.AlertKind values this person is texted about.
    alert_kinds: Mapped[str] = mapped_column(String(200), default="")

    @property
    def kinds(self) -> set[str]:
        """The alert kinds as a set."""
        return {k for k in self.alert_kinds.split(",") if k}


class SettingsVersion(Base):
    """One row counting changes to lines, calendar overrides and recipients.

    Every flush that changes one of those rows bumps it in the same transaction
    (hotline.lines.cache), so each process can keep lines and calendars in memory and reload
    them only when the counter it reads once per request has moved.
    """

    __tablename__ = "settings_version"

    id: Mapped[intpk]
    version: Mapped[int] = mapped_column(default=0)


@event.listens_for(SettingsVersion.__table__, "after_create")
def _first_row(target, connection, **kw) -> None:
    # A schema built from the models (tests, the benchmark's fallback) starts with the row the
    # migration inserts, so the bump is always a plain UPDATE.
    connection.execute(target.insert().values(id=1, version=0))


#: The models whose changes bump the settings counter.
WATCHED = (Line, CalendarOverride, LineRecipient)
#: session.info key: the counter read by this session's current transaction (hotline.lines.cache).
SEEN = "hotline.settings_version"
#: session.info key: this transaction changed settings (uncommitted: nothing it reads is cached).
BUMPED = "hotline.settings_bumped"


@event.listens_for(Session, "before_flush")
def _bump_on_change(session: Session, flush_context, instances) -> None:
    """Bump the counter in the flush that changes a line, an override or a recipient."""
    changed = any(isinstance(obj, WATCHED) for obj in (*session.new, *session.deleted)) or any(
        isinstance(obj, WATCHED) and session.is_modified(obj, include_collections=False)
        for obj in session.dirty
    )
    if changed:
        table = SettingsVersion.__table__
        connection = session.connection()
        bumped = connection.execute(
            update(table).where(table.c.id == 1).values(version=table.c.version + 1)
        )
        if bumped.rowcount == 0:
            # The row is missing (a table emptied by hand or by a test's TRUNCATE): start again
            # above the 0 a reader assumes when there is no row.
            connection.execute(insert(table).values(id=1, version=1))
        session.info.pop(SEEN, None)
        session.info[BUMPED] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_version(session: Session) -> None:
    # The next transaction reads the counter again.
    session.info.pop(SEEN, None)
    session.info.pop(BUMPED, None)
