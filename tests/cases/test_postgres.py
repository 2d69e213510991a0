"""PostgreSQL: concurrent openers never share a case number or split one caller's request in
two, and the database itself refuses to change the audit trail."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from hotline import create_app
from hotline.callers.models import Caller
from hotline.cases import lifecycle
from hotline.cases.models import Case
from hotline.db import db


@pytest.fixture
def pg_app(app_config, pg_url):
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    application = create_app({**app_config, "DATABASE_URL": url})
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.engine.dispose()


def _in_threads(app, work, count: int) -> list:
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run(i: int) -> None:
        with app.app_context():
            session = db.session_factory()
            try:
                barrier.wait(timeout=10)
                results.append(work(session, i))
                session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.postgres
def test_concurrent_openers_get_distinct_numbers(pg_app):
    numbers = _in_threads(
        pg_app,
        lambda session, i: (
            lifecycle.open_case(session, caller_id=None, line_id=None, channel="call").number
        ),
        8,
    )
    assert len(set(numbers)) == 8
    assert sorted(int(n.split("-")[1]) for n in numbers) == list(range(1, 9))


@pytest.mark.postgres
def test_two_contacts_of_one_caller_at_once_continue_one_case(pg_app):
    with pg_app.app_context():
        caller = Caller(phone_number="+8613800138000")
        db.session.add(caller)
        db.session.commit()
        caller_id = caller.id
    numbers = _in_threads(
        pg_app,
        lambda session, i: (
            lifecycle.open_or_continue_case(
                session, caller_id=caller_id, line_id=None, channel="call" if i % 2 else "sms"
            ).number
        ),
        6,
    )
    assert len(set(numbers)) == 1
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1


@pytest.mark.postgres
def test_postgres_refuses_to_change_the_audit_trail(pg_app):
    with pg_app.app_context():
        lifecycle.open_case(db.session, caller_id=None, line_id=None, channel="call")
        db.session.commit()
        for statement in ("UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(text("SELECT count(*) FROM audit_entries")) == 1
