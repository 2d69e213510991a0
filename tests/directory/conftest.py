"""Fixtures of the directory tests: staff accounts, signing in, a volunteers CSV."""

from __future__ import annotations

import pytest

from hotline.db import db
from hotline.operators.models import Role
from tests import factories

HEADER = (
    "name,phone_number,district,languages,availability,elders,is_active,consented_on,consent_way"
)


def roster_csv(count: int = 10, *, bad_rows: tuple[str, ...] = ()) -> str:
    """A volunteers CSV of `count` valid rows (test numbers +86138000001xx), then `bad_rows`."""
    rows = [
        f"志愿者{i},+86138000001{i:02d},{'东城街道' if i % 2 else '西城街道'},普通话,工作日上午,,yes,"
        f"2026-03-0{1 + i % 9},in_writing"
        for i in range(count)
    ]
    return "\n".join([HEADER, *rows, *bad_rows]) + "\n"


@pytest.fixture
def staff(app):
    """staff(Role.ADMIN) -> operator id."""

    def _make(role: Role = Role.ADMIN, **fields) -> int:
        with app.app_context():
            operator = factories.make_operator(db.session, role=role, **fields)
            db.session.commit()
            return operator.id

    return _make


@pytest.fixture
def signed_in(client, staff):
    """signed_in(Role.OPERATOR) -> the test client signed in with a new account of that role."""

    def _sign_in(role: Role = Role.ADMIN, lang: str = "en"):
        operator_id = staff(role)
        with client.session_transaction() as session:
            session["_user_id"] = str(operator_id)
            session["_fresh"] = True
            session["lang"] = lang
        return client

    return _sign_in
