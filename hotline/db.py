"""Database: the declarative Base, shared column types and the per-request session.

Services receive a `Session` and are the only code that commits. Views get the request's
session from `db.session`; it is closed when the app context ends.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from flask import Flask, current_app, g
from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from hotline.timeutil import as_utc, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every engine (SQLite stores naive text; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use hotline.timeutil.utcnow()")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value)


class Base(DeclarativeBase):
    """Base class of every model; constraint names follow NAMING_CONVENTION."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def enum_column(enum_cls: type[enum.Enum], **kwargs: Any):
    """A column storing an Enum by its value (readable in SQL, stable across renames of members)."""
    from sqlalchemy import Enum as SAEnum

    return mapped_column(
        SAEnum(
            enum_cls,
            values_callable=lambda e: [m.value for m in e],
            native_enum=False,
            validate_strings=True,
            length=32,
            name=enum_cls.__name__.lower(),
        ),
        **kwargs,
    )


#: Primary key column.
intpk = Annotated[int, mapped_column(primary_key=True)]
#: Creation timestamp in aware UTC.
created_at = Annotated[datetime, mapped_column(default=utcnow)]


def upsert_insert(session: Session) -> Callable[..., Any]:
    """The `insert` of the session's dialect, which has `on_conflict_do_nothing` and
    `on_conflict_do_update` (PostgreSQL and SQLite, the two databases the hotline runs on)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


#: How long after a client-side timeout new PostgreSQL connections are refused without trying.
#: A stalled server would make each attempt wait the whole connect timeout; failing at once for
#: a moment lets every webhook fall back quickly, and the first attempt after it probes again.
STALL_BACKOFF_SECONDS = 5.0


class _StallState:
    """Per-engine memory of the last client-side timeout (see STALL_BACKOFF_SECONDS)."""

    def __init__(self, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        self.refuse_until = 0.0

    def tripped(self) -> None:
        self.refuse_until = time.monotonic() + STALL_BACKOFF_SECONDS

    def check(self) -> None:
        left = self.refuse_until - time.monotonic()
        if left > 0:
            import psycopg

            raise psycopg.OperationalError(
                f"the database stalled less than {STALL_BACKOFF_SECONDS:.0f} s ago; "
                f"not connecting for another {left:.1f} s"
            )


def _bounded_connection_class(state: _StallState):
    """A psycopg Connection whose every wait on the socket is bounded by `state.wait_seconds`.

    psycopg 3 runs each operation (execute, fetch, commit, rollback, the pool's pre-ping) as a
    generator consumed by `Connection.wait`; passing a timeout there turns "wait forever for
    bytes" into an error. The half-finished connection is closed, so SQLAlchemy sees a
    disconnect and drops it from the pool.
    """
    import psycopg
    from psycopg import errors

    class BoundedConnection(psycopg.Connection):
        def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
            bound = state.wait_seconds
            timeout = bound if timeout is None else min(timeout, bound)
            try:
                return super().wait(gen, interval=interval, timeout=timeout)
            except errors.OperationalError as exc:
                # psycopg's private _WaitTimeout is the only OperationalError raised by the
                # wait itself; anything else (a server error) is passed on untouched.
                if type(exc).__name__ != "_WaitTimeout":
                    raise
                state.tripped()
                self.close()
                raise psycopg.OperationalError(
                    f"no answer from the database within {timeout:.1f} s; connection closed"
                ) from exc

    return BoundedConnection


#: A failed statement's error names its SQL but never its values: they are case summaries,
#: notes, texts and numbers, and an error ends up in the logs (issue 12: no personal text there).
HIDE_PARAMETERS = True


def make_engine(
    url: str, *, statement_timeout_ms: int = 2000, client_timeout_ms: int | None = None
) -> Engine:
    """Create an engine with the hotline's settings for SQLite or PostgreSQL.

    Every wait on the database is bounded, so a webhook that cannot reach its data raises
    quickly and the guard (hotline.telephony.webhooks) answers with the fallback TwiML well
    inside Twilio's 15 s limit, within 3 s with the defaults:

    - SQLite: a write lock held by another connection is waited for `statement_timeout_ms`
      (busy_timeout), then "database is locked".
    - PostgreSQL, server side: `statement_timeout` and `lock_timeout` are `statement_timeout_ms`,
      so a slow statement or a lock held by another connection ends cleanly, connection kept.
    - PostgreSQL, client side, for a server that does not answer at all (stopped, swapped out,
      a stalled proxy): the kernel still acknowledges our bytes, so TCP keepalives and
      `tcp_user_timeout` never fire and the statement timeout never runs. Every wait on the
      socket (execute, fetch, commit, rollback, the pool's pre-ping) is therefore bounded by
      `client_timeout_ms` (default: the statement timeout + 0.5 s, so the server's own cancel
      wins when the server is alive); the connection is then closed and dropped from the pool.
      After such a timeout new connections are refused for STALL_BACKOFF_SECONDS instead of
      each waiting the connect timeout (psycopg's minimum is 2 s), and the pool gives up waiting
      for a free connection after the client timeout. Keepalives and `tcp_user_timeout` still
      matter for the other failure: a database host that vanished from the network.

    The bound is per wait, not per request: a request that makes several slow but successful
    round trips can take longer; a stalled database costs one bound.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": statement_timeout_ms / 1000, "check_same_thread": False},
            hide_parameters=HIDE_PARAMETERS,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(statement_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if client_timeout_ms is None:
        client_timeout_ms = statement_timeout_ms + 500
    state = _StallState(client_timeout_ms / 1000)
    connection_class = _bounded_connection_class(state)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=HIDE_PARAMETERS,
        pool_size=5,
        max_overflow=5,
        pool_timeout=client_timeout_ms / 1000,
        connect_args={
            # psycopg enforces at least 2 s here; STALL_BACKOFF_SECONDS covers repeated tries.
            "connect_timeout": max(2, client_timeout_ms // 1000),
            # A vanished host: unacknowledged data or silent keepalives end the connection.
            "tcp_user_timeout": int(client_timeout_ms),
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "options": f"-c statement_timeout={int(statement_timeout_ms)}"
            f" -c lock_timeout={int(statement_timeout_ms)}",
        },
    )

    import psycopg

    @event.listens_for(engine, "do_connect")
    def _bounded_connect(_dialect, _record, cargs, cparams):
        state.check()
        try:
            return connection_class.connect(*cargs, **cparams)
        except psycopg.errors.ConnectionTimeout:
            state.tripped()
            raise

    return engine


class Database:
    """Flask extension holding the engine and the request-scoped session."""

    def __init__(self) -> None:
        self._apps: dict[int, tuple[Engine, sessionmaker[Session]]] = {}

    def init_app(self, app: Flask) -> None:
        """Create the engine for `app` and close the request session on teardown."""
        engine = make_engine(
            app.config["DATABASE_URL"],
            statement_timeout_ms=app.config["DB_STATEMENT_TIMEOUT_MS"],
            client_timeout_ms=app.config.get("DB_CLIENT_TIMEOUT_MS"),
        )
        factory = sessionmaker(engine, expire_on_commit=False)
        app.extensions["hotline.db"] = (engine, factory)

        @app.teardown_appcontext
        def _close_session(_exc):
            session = g.pop("hotline_session", None)
            if session is not None:
                session.close()

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return current_app.extensions["hotline.db"][0]

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """The current app's session factory (for work outside a request, e.g. the clock)."""
        return current_app.extensions["hotline.db"][1]

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use."""
        session = g.get("hotline_session")
        if session is None:
            session = self.session_factory()
            g.hotline_session = session
        return session

    def create_all(self) -> None:
        """Create every table registered on `Base.metadata` (tests only; real databases use
        `flask db upgrade`). `hotline.create_app` imports the registry (`hotline.models`), so
        every table is known once an app exists; the kernel itself imports no model module."""
        Base.metadata.create_all(self.engine)


db = Database()
