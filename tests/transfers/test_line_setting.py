"""The per-line recording setting: an admin switches it on in the line's page (audited)."""

from __future__ import annotations

from sqlalchemy import select

from hotline.audit import AuditEntry
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Role
from tests.lines.conftest import *  # noqa: F403
from tests.lines.conftest import valid_form


def test_an_admin_switches_recording_on_and_it_is_audited(app, signed_in):
    client = signed_in(Role.ADMIN)
    with app.app_context():
        main = db.session.scalar(select(Line).where(Line.key == "main"))
        main_id, number = main.id, main.phone_number
        assert not main.is_recording_enabled
    page = client.get(f"/console/admin/lines/{main_id}").get_data(as_text=True)
    assert 'name="is_recording_enabled"' in page
    form = valid_form(phone_number=number, is_recording_enabled="yes")
    assert client.post(f"/console/admin/lines/{main_id}", data=form).status_code == 302
    with app.app_context():
        assert db.session.get(Line, main_id).is_recording_enabled
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "line"))
        assert entry.before["is_recording_enabled"] is False
        assert entry.after["is_recording_enabled"] is True


def test_the_cli_switches_recording_on_and_off(app, runner):
    import json

    result = runner.invoke(args=["lines", "update", "main", "--recording", "yes"])
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(args=["lines", "show", "main"]).output)
    assert shown["is_recording_enabled"] == "yes"
    assert runner.invoke(args=["lines", "update", "main", "--recording", "no"]).exit_code == 0
    with app.app_context():
        assert not db.session.scalar(select(Line).where(Line.key == "main")).is_recording_enabled
