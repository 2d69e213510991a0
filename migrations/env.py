"""Alembic environment: run through `flask --app hotline db upgrade` (see hotline/cli.py)."""

from __future__ import annotations

from logging.config import fileConfig  # noqa: F401

from alembic import context

import hotline.models  # noqa: F401  (registers every table)
from hotline.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    import tempfile

    from hotline.config import from_environment

    return from_environment(tempfile.gettempdir())["DATABASE_URL"]


def run_migrations_offline() -> None:
    """Emit SQL without a database connection (`alembic upgrade --sql`)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate a live database; batch mode so SQLite can alter tables."""
    engine = make_engine(_url(), statement_timeout_ms=60_000)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
