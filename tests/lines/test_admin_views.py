"""The Lines administration pages: admins change, supervisors read, every change audited."""

from __future__ import annotations

from datetime import date, time

from factories import make_operator
from sqlalchemy import select

from hotline.audit import AuditEntry
from hotline.db import db
from hotline.lines.models import CalendarOverride, Line, LineRecipient
from hotline.operators.models import Role
from tests.lines.conftest import valid_form


def _line(app, key):
    with app.app_context():
        line = db.session.scalar(select(Line).where(Line.key == key))
        if line is not None:
            db.session.expunge(line)
        return line


def _audit(app, entity):
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.entity == entity)))


def test_an_admin_creates_a_line_with_its_hours_and_it_is_audited(app, signed_in):
    client = signed_in(Role.ADMIN)
    form = valid_form(mode_sat="hours", hours_sat="09:00-12:00", mode_sun="closed")
    response = client.post("/console/admin/lines/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    line = _line(app, "district")
    assert line.phone_number == "+861088880000"
    assert line.weekly_hours == {"5": ["09:00", "12:00"], "6": None}
    assert line.callback_window_start == time(9)
    [entry] = _audit(app, "line")
    assert entry.action == "created" and entry.operator_id == client.operator_id
    assert entry.after["phone_number"] == "+861088880000"


def test_an_edit_records_before_and_after(app, signed_in):
    client = signed_in(Role.ADMIN)
    main = _line(app, "main")
    page = client.get(f"/console/admin/lines/{main.id}").get_data(as_text=True)
    assert "Who is told what" in page and 'value="+861012345678"' in page
    form = valid_form(
        phone_number=main.phone_number, name="Elder line", callback_retry_delays="15m,1h"
    )
    assert client.post(f"/console/admin/lines/{main.id}", data=form).status_code == 302
    [entry] = _audit(app, "line")
    assert entry.action == "updated"
    assert entry.before["callback_retry_delays"] == "30m,2h,next_working_day"
    assert entry.after["callback_retry_delays"] == "15m,1h"
    assert _line(app, "main").name == "Elder line"


def test_bad_input_shows_the_message_next_to_the_field_and_changes_nothing(app, signed_in):
    client = signed_in(Role.ADMIN)
    main = _line(app, "main")
    form = valid_form(phone_number=main.phone_number, name="Changed", hours_usual="20:00-08:00")
    response = client.post(f"/console/admin/lines/{main.id}", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="e-hours_usual"' in page and "closes before it opens" in page
    assert 'aria-invalid="true"' in page
    assert _line(app, "main").name == "长者服务热线"
    assert _audit(app, "line") == []
    duplicate = client.post(
        "/console/admin/lines/new", data=valid_form(phone_number=main.phone_number)
    )
    assert duplicate.status_code == 422
    assert "another line has this number" in duplicate.get_data(as_text=True)
    assert _line(app, "district") is None


def test_supervisors_read_but_cannot_change_and_operators_cannot_see(app, signed_in):
    main = _line(app, "main")
    supervisor = signed_in(Role.SUPERVISOR)
    assert supervisor.get("/console/admin/lines").status_code == 200
    page = supervisor.get(f"/console/admin/lines/{main.id}").get_data(as_text=True)
    assert "Only an administrator can change this." in page and "disabled" in page
    assert supervisor.post(f"/console/admin/lines/{main.id}", data=valid_form()).status_code == 403
    assert supervisor.get("/console/admin/lines/new").status_code == 403
    operator = signed_in(Role.OPERATOR)
    assert operator.get("/console/admin/lines").status_code == 403


def test_recipients_are_chosen_per_line_and_kind(app, signed_in):
    client = signed_in(Role.ADMIN)
    main = _line(app, "main")
    with app.app_context():
        one = make_operator(db.session, role=Role.SUPERVISOR, phone_number="+8613800000001")
        two = make_operator(db.session, role=Role.SUPERVISOR, phone_number="+8613800000002")
        db.session.commit()
        one_id, two_id = one.id, two.id
    response = client.post(
        f"/console/admin/lines/{main.id}/recipients",
        data={
            f"summary_{one_id}": "on",
            f"alert_{one_id}_long_wait": "on",
            f"alert_{two_id}_urgent_case": "on",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        rows = {
            r.operator_id: r
            for r in db.session.scalars(
                select(LineRecipient).where(LineRecipient.line_id == main.id)
            )
        }
        assert rows[one_id].gets_daily_summary and rows[one_id].kinds == {"long_wait"}
        assert not rows[two_id].gets_daily_summary and rows[two_id].kinds == {"urgent_case"}
    [entry] = _audit(app, "line_recipients")
    assert entry.after == {str(one_id): "daily_summary,long_wait", str(two_id): "urgent_case"}


def test_overrides_are_added_and_removed_with_a_note_and_shown_in_the_month(app, signed_in):
    client = signed_in(Role.ADMIN)
    main = _line(app, "main")
    response = client.post(
        f"/console/admin/lines/{main.id}/overrides",
        data={"day": "2027-03-10", "is_working_day": "closed", "note": "Community fair"},
    )
    assert response.status_code == 302
    page = client.get(f"/console/admin/lines/{main.id}/calendar?month=2027-03")
    text = page.get_data(as_text=True)
    assert "Community fair" in text and "local override" in text
    # The year's national days come from the holidays library: 2027's Spring Festival.
    assert "2027-02-06" in text
    with app.app_context():
        row = db.session.scalar(select(CalendarOverride))
        assert (row.day, row.is_working_day, row.line_id) == (date(2027, 3, 10), False, main.id)
        row_id = row.id
    refused = client.post(
        f"/console/admin/lines/{main.id}/overrides",
        data={"day": "2027-03-11", "is_working_day": "closed", "note": ""},
    )
    assert refused.status_code == 302
    assert (
        client.post(f"/console/admin/lines/{main.id}/overrides/{row_id}/delete").status_code == 302
    )
    with app.app_context():
        assert db.session.scalar(select(CalendarOverride)) is None
    assert [e.action for e in _audit(app, "calendar_override")] == ["created", "deleted"]


def test_the_month_view_shows_open_days_and_hours(app, signed_in):
    client = signed_in(Role.SUPERVISOR)
    main = _line(app, "main")
    with app.app_context():
        line = db.session.get(Line, main.id)
        line.is_open_every_day = False
        line.opens_at, line.closes_at = time(8), time(18)
        db.session.commit()
    text = client.get(f"/console/admin/lines/{main.id}/calendar?month=2027-10").get_data(
        as_text=True
    )
    # National Day week is closed; an ordinary working day shows its hours.
    assert 'class="closed" data-day="2027-10-01"' in text
    assert 'class="open" data-day="2027-10-12"' in text and "08:00-18:00" in text


def test_recipients_phones_are_plain_numbers_set_on_the_same_form(app, signed_in):
    client = signed_in(Role.ADMIN)
    main = _line(app, "main")
    with app.app_context():
        zhang = make_operator(db.session, role=Role.SUPERVISOR, phone_number="+8613800000001")
        db.session.commit()
        zhang_id = zhang.id
    refused = client.post(
        f"/console/admin/lines/{main.id}/recipients",
        data={f"summary_{zhang_id}": "on", f"phone_{zhang_id}": "client:zhang"},
    )
    assert refused.status_code == 422
    assert f'id="e-phone_{zhang_id}"' in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(LineRecipient)) is None, "nothing changed"
    saved = client.post(
        f"/console/admin/lines/{main.id}/recipients",
        data={f"summary_{zhang_id}": "on", f"phone_{zhang_id}": "138 0000 0009"},
    )
    assert saved.status_code == 302
    with app.app_context():
        from hotline.operators.models import Operator

        assert db.session.get(Operator, zhang_id).phone_number == "+8613800000009"
    [entry] = _audit(app, "operator")
    assert entry.after == {"phone_number": "+86*******0009"}
