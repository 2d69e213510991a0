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


def _backfill_keeps_past_conversations(app_config, url):
    """0013_operator_talks gives each conversation finished before it one stretch of talk (as
    the day report counted it until then); other entries get none."""
    from datetime import UTC, datetime, timedelta

    from conftest import add_main_line
    from hotline.db import db
    from hotline.queue.models import QueueEntry, QueueStatus
    from tests import factories

    app = create_app({**app_config, "DATABASE_URL": url})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "0012_checkin_claim_index"])
    assert result.exit_code == 0, result.output
    answered = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with app.app_context():
        session = db.session
        add_main_line()
        line = factories.main_line(session)
        operator = factories.make_operator(session, "lin")
        for status, operator_id in (
            (QueueStatus.COMPLETED, operator.id),
            (QueueStatus.ABANDONED, None),
        ):
            call = factories.make_call(session, line_id=line.id, caller_id=None)
            session.add(
                QueueEntry(
                    line_id=line.id,
                    call_id=call.id,
                    status=status,
                    priority=3,
                    arrived_at=answered,
                    enqueued_at=answered,
                    operator_id=operator_id,
                    connected_at=answered if operator_id else None,
                    ended_at=answered + timedelta(seconds=90),
                )
            )
        session.commit()
        completed_id = session.scalar(
            text("SELECT id FROM queue_entries WHERE status = 'completed'")
        )
        operator_id = operator.id
        session.close()
        db.engine.dispose()
    result = runner.invoke(args=["db", "upgrade", "0013_operator_talks"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT queue_entry_id, operator_id, ended_by FROM operator_talks")
        ).all()
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    with app.app_context():
        db.engine.dispose()
    assert [tuple(r) for r in rows] == [(completed_id, operator_id, "call_ended")]
    assert head == "0013_operator_talks"


def test_operator_talks_are_backfilled_on_sqlite(app_config, tmp_path):
    _backfill_keeps_past_conversations(app_config, f"sqlite:///{tmp_path / 'talks.sqlite3'}")


@pytest.mark.postgres
def test_operator_talks_are_backfilled_on_postgres(app_config, pg_url):
    _backfill_keeps_past_conversations(
        app_config, pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )


#: Revisions with a data-carrying downgrade, each checked to go down and up again.
ROUND_TRIP_REVISIONS = ("0014_callback_held_reason",)


def _round_trip(app_config, url, revision: str) -> None:
    """Down to before `revision` and up again, with a held callback beside a check-in."""
    from alembic.script import ScriptDirectory

    from hotline.cli import alembic_config

    app = create_app({**app_config, "DATABASE_URL": url})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        before = ScriptDirectory.from_config(alembic_config()).get_revision(revision).down_revision
        from hotline.db import db

        db.engine.dispose()
    from datetime import UTC, datetime

    from hotline.callbacks.models import CallbackRequest
    from hotline.lines.models import Line

    now = datetime.now(UTC)
    engine = create_engine(url)
    with engine.begin() as conn:
        line_id = conn.execute(
            Line.__table__.insert()
            .values(key="m", name="m", phone_number="+861012345678")
            .returning(Line.__table__.c.id)
        ).scalar_one()
        for reason, held in (("check_in", None), ("family", "the line is closed")):
            conn.execute(
                CallbackRequest.__table__.insert().values(
                    line_id=line_id,
                    phone_number="+8613100000001",
                    reason=reason,
                    status="pending",
                    original_arrival_at=now,
                    due_at=now,
                    held_reason=held,
                )
            )
    engine.dispose()
    result = runner.invoke(args=["db", "downgrade", before])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT reason, status FROM callback_requests")).all())
    engine.dispose()
    assert rows == {"check_in": "pending", "family": "canceled"}, "the held one gave way"
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("revision", ROUND_TRIP_REVISIONS)
def test_a_revision_goes_down_and_up_again_on_sqlite(app_config, tmp_path, revision):
    _round_trip(app_config, f"sqlite:///{tmp_path / 'round-trip.sqlite3'}", revision)


@pytest.mark.postgres
@pytest.mark.parametrize("revision", ROUND_TRIP_REVISIONS)
def test_a_revision_goes_down_and_up_again_on_postgres(app_config, pg_url, revision):
    _round_trip(app_config, pg_url.replace("postgresql://", "postgresql+psycopg://", 1), revision)
