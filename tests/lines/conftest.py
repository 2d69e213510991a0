"""Fixtures for line administration: signed-in clients by role, and a full valid form."""

from __future__ import annotations

import pytest
from factories import make_operator

from hotline.db import db
from hotline.operators.models import Role


@pytest.fixture
def signed_in(app):
    """A test client signed in with a new account of `role` (English console)."""

    def _make(role: Role = Role.ADMIN, **fields):
        with app.app_context():
            operator = make_operator(db.session, role=role, **fields)
            db.session.commit()
            operator_id = operator.id
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(operator_id)
            session["_fresh"] = True
            session["lang"] = "en"
        client.operator_id = operator_id
        return client

    return _make


def valid_form(**changes: str) -> dict[str, str]:
    """Every field of the line form, valid, as the browser posts it."""
    form = {
        "key": "district",
        "name": "District line",
        "phone_number": "+861088880000",
        "script_key": "main",
        "default_language": "zh-CN",
        "timezone": "Asia/Shanghai",
        "is_active": "yes",
        "open_days": "working",
        "hours_usual": "08:00-20:00",
        **{f"mode_{d}": "usual" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "callback_window": "09:00-19:00",
        "offer_callback_after_seconds": "180",
        "max_wait_seconds": "1200",
        "abandon_callback_after_seconds": "20",
        "service_level_seconds": "20",
        "callback_max_attempts": "4",
        "callback_retry_delays": "30m,2h,next_working_day",
        "quiet_hours": "",
    }
    form.update(changes)
    return form
