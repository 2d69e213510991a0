"""Fixtures for the security tests: operators with known passwords, and sign-in helpers."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from hotline.db import db
from hotline.operators.models import Role
from tests import factories

PASSWORD = "correct horse battery"
#: A cheap hash for accounts whose password is not what a test is about.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@pytest.fixture
def add_operator(app):
    """add_operator("name", role=Role.ADMIN) -> id, with the password PASSWORD."""

    def _add(username: str = "op1", role: Role = Role.OPERATOR) -> int:
        with app.app_context():
            operator = factories.make_operator(db.session, username, role=role, password=PASSWORD)
            db.session.commit()
            return operator.id

    return _add


def login(client, username: str, password: str = PASSWORD, address: str = "192.0.2.10", **kw):
    """Post the sign-in form from `address` (REMOTE_ADDR, as the WSGI server sets it)."""
    environ = {"REMOTE_ADDR": address, **kw.pop("environ_base", {})}
    return client.post(
        "/console/login",
        data={"username": username, "password": password},
        environ_base=environ,
        **kw,
    )
