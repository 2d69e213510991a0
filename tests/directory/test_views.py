"""The directory pages: operators read, admins change; bad input is shown next to its field and
changes nothing; the CSV import is checked first and only the confirmed valid rows are added."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.directory.models import Agency, Volunteer
from hotline.operators.models import Role
from tests.directory.conftest import roster_csv


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


AGENCY = {
    "name": "市急救中心",
    "kind": "emergency",
    "phone_number": "120",
    "hours": "24h",
    "notes": "",
    "is_active": "y",
}


def test_operators_read_the_directory_but_cannot_change_it(app, signed_in):
    client = signed_in(Role.OPERATOR)
    assert client.get("/console/directory/agencies").status_code == 200
    assert client.get("/console/directory/volunteers").status_code == 200
    assert client.post("/console/directory/agencies", data=AGENCY).status_code == 403
    assert client.get("/console/directory/volunteers.csv").status_code == 403
    assert _count(app, Agency) == 0


def test_admin_adds_an_agency_with_a_short_code_and_the_change_is_audited(app, signed_in):
    client = signed_in(Role.ADMIN)
    response = client.post("/console/directory/agencies", data=AGENCY)
    assert response.status_code == 303
    page = client.get("/console/directory/agencies").get_data(as_text=True)
    assert "市急救中心" in page and "120" in page
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "agency"))
        assert entry.action == "created" and entry.after["kind"] == "emergency"


def test_bad_agency_input_is_shown_next_to_the_field_and_changes_nothing(app, signed_in):
    client = signed_in(Role.ADMIN)
    for number, message in [
        ("120", "only for the emergency kind"),
        ("12", "not a valid phone number"),
    ]:
        response = client.post(
            "/console/directory/agencies",
            data={**AGENCY, "kind": "medical", "phone_number": number},
        )
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert 'id="agency-phone-errors"' in html and message in html
    assert client.post("/console/directory/agencies", data=AGENCY).status_code == 303
    duplicate = client.post("/console/directory/agencies", data={**AGENCY, "name": "另一个"})
    assert duplicate.status_code == 400
    assert "already in the directory" in duplicate.get_data(as_text=True)
    assert _count(app, Agency) == 1


def test_admin_edits_an_agency(app, signed_in):
    client = signed_in(Role.ADMIN)
    client.post("/console/directory/agencies", data=AGENCY)
    with app.app_context():
        agency_id = db.session.scalar(select(Agency.id))
    assert client.get(f"/console/directory/agencies/{agency_id}").status_code == 200
    response = client.post(
        f"/console/directory/agencies/{agency_id}", data={**AGENCY, "hours": "全天"}
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Agency, agency_id).hours == "全天"
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "agency").order_by(AuditEntry.id)
        ).all()[-1]
        assert entry.action == "updated" and entry.after == {"hours": "全天"}


VOLUNTEER = {
    "name": "张志愿者",
    "phone_number": "138 0000 0201",
    "district": "东城街道",
    "languages": "普通话",
    "availability": "周末",
    "elders": "",
    "is_active": "y",
    "consented_on": "2026-03-01",
    "consent_way": "in_person",
}


def test_bad_volunteer_input_is_shown_and_changes_nothing(app, signed_in):
    client = signed_in(Role.ADMIN)
    response = client.post(
        "/console/directory/volunteers",
        data={**VOLUNTEER, "phone_number": "hello", "consented_on": "", "elders": "+8613900000999"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="volunteer-phone-errors"' in html
    assert 'id="volunteer-consented-on-errors"' in html
    assert "No caller profile has these numbers: +8613900000999" in html
    assert _count(app, Volunteer) == 0
    assert client.post("/console/directory/volunteers", data=VOLUNTEER).status_code == 303
    again = client.post("/console/directory/volunteers", data={**VOLUNTEER, "name": "李"})
    assert again.status_code == 400
    assert "already on the roster" in again.get_data(as_text=True)
    assert _count(app, Volunteer) == 1


def test_csv_import_previews_then_imports_only_the_valid_rows(app, signed_in):
    client = signed_in(Role.ADMIN)
    text = roster_csv(10, bad_rows=("坏行,12345,,,,,yes,2026-03-01,in_writing",))
    preview = client.post(
        "/console/directory/volunteers/import",
        data={"file": (io.BytesIO(text.encode("utf-8-sig")), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 400
    html = preview.get_data(as_text=True)
    assert "10 rows can be imported, 1 have problems." in html
    assert '<th scope="row">12</th>' in html and "not a valid phone number" in html
    assert "Import the 10 valid rows" in html
    assert _count(app, Volunteer) == 0, "the check stores nothing"
    confirmed = client.post("/console/directory/volunteers/import", data={"checked_csv": text})
    assert confirmed.status_code == 303
    assert _count(app, Volunteer) == 10
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "volunteer")
        ).all()
        assert len(entries) == 10 and {e.action for e in entries} == {"imported"}
        assert all("志愿者" not in str(e.after) and "+86138" not in str(e.after) for e in entries)
    exported = client.get("/console/directory/volunteers.csv")
    assert exported.status_code == 200
    assert exported.get_data(as_text=True).count("+86138000001") == 10


def test_a_file_that_is_not_utf8_is_refused_and_changes_nothing(app, signed_in):
    client = signed_in(Role.ADMIN)
    response = client.post(
        "/console/directory/volunteers/import",
        data={"file": (io.BytesIO(roster_csv(2).encode("gb18030")), "roster.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Please save the CSV as UTF-8." in response.get_data(as_text=True)
    missing = client.post(
        "/console/directory/volunteers/import",
        data={"file": (io.BytesIO(b"name,phone\nx,+8613800000801\n"), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400
    assert "lacks these columns: phone_number, consented_on, consent_way" in missing.get_data(
        as_text=True
    )
    assert _count(app, Volunteer) == 0


def test_admin_edits_a_volunteer_and_their_elders_and_the_trail_is_redacted(
    app, signed_in, make_caller
):
    elder_id = make_caller(phone_number="+8613900000801")
    client = signed_in(Role.ADMIN)
    client.post("/console/directory/volunteers", data=VOLUNTEER)
    with app.app_context():
        volunteer_id = db.session.scalar(select(Volunteer.id))
    form = client.get(f"/console/directory/volunteers/{volunteer_id}").get_data(as_text=True)
    assert 'value="+8613800000201"' in form
    response = client.post(
        f"/console/directory/volunteers/{volunteer_id}",
        data={**VOLUNTEER, "name": "张新名", "elders": "139 0000 0801"},
    )
    assert response.status_code == 303
    with app.app_context():
        volunteer = db.session.get(Volunteer, volunteer_id)
        assert volunteer.name == "张新名"
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "volunteer").order_by(AuditEntry.id)
        ).all()[-1]
        assert entry.action == "updated"
        assert entry.after == {"name": "<3 chars>", "elder_ids": [elder_id]}
    unchecked = {k: v for k, v in VOLUNTEER.items() if k != "is_active"}
    client.post(f"/console/directory/volunteers/{volunteer_id}", data=unchecked)
    with app.app_context():
        assert db.session.get(Volunteer, volunteer_id).is_active is False
