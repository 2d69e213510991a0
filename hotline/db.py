"""Database: the declarative Base, shared column types and the per-request session.

Services receive a `Session` and are the only code that commits. Views get the request's
session from `db.session`; it is closed when the app context ends.
"""

from __future__ import annotations

import enum
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


def make_engine(url: str, *, statement_timeout_ms: int = 3000) -> Engine:
    """Create an engine with the hotline's settings for SQLite or PostgreSQL.

    Both engines are told to give up on a stalled statement after `statement_timeout_ms`, so a
    locked database fails fast and the voice views can still answer Twilio with the fallback
    TwiML well inside Twilio's 15 s webhook limit.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": statement_timeout_ms / 1000, "check_same_thread": False},
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
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=statement_timeout_ms / 1000,
        connect_args={
            "connect_timeout": max(1, statement_timeout_ms // 1000),
            "options": f"-c statement_timeout={int(statement_timeout_ms)}"
            f" -c lock_timeout={int(statement_timeout_ms)}",
        },
    )


class Database:
    """Flask extension holding the engine and the request-scoped session."""

    def __init__(self) -> None:
        self._apps: dict[int, tuple[Engine, sessionmaker[Session]]] = {}

    def init_app(self, app: Flask) -> None:
        """Create the engine for `app` and close the request session on teardown."""
        engine = make_engine(
            app.config["DATABASE_URL"],
            statement_timeout_ms=app.config["DB_STATEMENT_TIMEOUT_MS"],
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
