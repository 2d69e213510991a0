"""`flask db upgrade` builds the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

import hotline.models  # noqa: F401
from hotline import create_app
from hotline.db import Base


def _upgrade_and_diff(app_config, url):
    app = create_app({**app_config, "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    with app.app_context():
        from hotline.db import db

        db.engine.dispose()
    return diff


def _assert_audit_trail_is_append_only(url):
    """The migrated database itself refuses to change or delete an audit entry."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_entries (occurred_at, actor, entity, action, before, after) "
                "VALUES (CURRENT_TIMESTAMP, 'test', 'case', 'created', '{}', '{}')"
            )
        )
    for statement in ("UPDATE audit_entries SET action = 'edited'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()


def test_migrations_build_the_models_schema_on_sqlite(app_config, tmp_path):
    url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    diff = _upgrade_and_diff(app_config, url)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
    _assert_audit_trail_is_append_only(url)


@pytest.mark.postgres
def test_migrations_build_the_models_schema_on_postgres(app_config, pg_url):
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    diff = _upgrade_and_diff(app_config, url)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
    _assert_audit_trail_is_append_only(url)
