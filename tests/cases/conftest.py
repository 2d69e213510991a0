"""Fixtures of the cases feature: operators, signing in, calls and cases."""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime

import pytest
from flask import has_app_context

from hotline.db import db
from hotline.operators.models import Role
from tests import factories

_usernames = itertools.count(1)


@pytest.fixture
def make_staff(app):
    """Create an operator: make_staff(role=Role.SUPERVISOR, password="...") -> id.

    Without a password the account can only be used through `sign_in` (fast: no hashing)."""

    def _make(
        role: Role = Role.OPERATOR,
        *,
        username: str | None = None,
        password: str | None = None,
        display_name: str | None = None,
        console_language: str = "zh",
    ) -> int:
        with _context(app):
            operator = factories.make_operator(
                db.session,
                username,
                role=role,
                password=password,
                display_name=display_name,
                console_language=console_language,
            )
            db.session.commit()
            return operator.id

    return _make


@pytest.fixture
def sign_in():
    """Sign a test client in as an operator id (Flask-Login's session key)."""

    def _sign_in(client, operator_id: int, *, lang: str | None = None):
        with client.session_transaction() as session:
            session["_user_id"] = str(operator_id)
            session["_fresh"] = True
            if lang:
                session["lang"] = lang
        return client

    return _sign_in


def _context(app):
    """The test's own app context when it has one (sharing its session, so SQLite is not
    locked by a second connection), else a new one."""
    return contextlib.nullcontext() if has_app_context() else app.app_context()


@pytest.fixture
def line_id(app) -> int:
    with app.app_context():
        return factories.main_line(db.session).id


@pytest.fixture
def make_call(app, line_id):
    """Create a Call row: make_call(caller_id, created_at=..., direction="inbound") -> (id, sid)."""

    def _make(
        caller_id: int | None,
        *,
        created_at: datetime | None = None,
        direction: str = "inbound",
        status: str = "in-progress",
        **fields,
    ):
        with _context(app):
            call = factories.make_call(
                db.session,
                line_id=line_id,
                caller_id=caller_id,
                direction=direction,
                status=status,
                created_at=created_at,
                **fields,
            )
            db.session.commit()
            return call.id, call.call_sid

    return _make


@pytest.fixture
def open_case(app, line_id):
    """Open a case for a caller in its own transaction: open_case(caller_id, **kw) -> number."""
    from hotline.cases import lifecycle

    def _open(
        caller_id: int | None,
        *,
        scenario: str | None = None,
        operator_id: int | None = None,
        channel: str = "call",
    ) -> str:
        with _context(app):
            case = lifecycle.open_or_continue_case(
                db.session,
                caller_id=caller_id,
                line_id=line_id,
                channel=channel,
                scenario=scenario,
                operator_id=operator_id,
            )
            db.session.commit()
            return case.number

    return _open


@pytest.fixture
def audit_of():
    """audit_of(session, entity=None, entity_id=None) -> the audit trail, oldest first."""
    return _audit_entries


def _audit_entries(session, entity: str | None = None, entity_id: int | None = None):
    from sqlalchemy import select

    from hotline.cases.models import AuditEntry

    statement = select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        statement = statement.where(AuditEntry.entity == entity)
    if entity_id is not None:
        statement = statement.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(statement))
