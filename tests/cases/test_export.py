"""CSV export: personal columns only for supervisors, every export in the audit trail."""

from __future__ import annotations

import csv
import io

import pytest

from hotline.cases import export, lifecycle
from hotline.db import db
from hotline.operators.models import Role


@pytest.fixture
def cases_to_export(app, make_caller, line_id):
    caller = make_caller(phone_number="+8613800138000", name="王秀英", district="朝阳区")
    with app.app_context():
        case = lifecycle.open_case(
            db.session, caller_id=caller, line_id=line_id, channel="call", scenario="medical"
        )
        lifecycle.update_summary(db.session, case, summary='=HYPERLINK("x")', operator_id=None)
        lifecycle.open_case(db.session, caller_id=None, line_id=line_id, channel="sms")
        db.session.commit()
        return case.number


def _rows(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff"), "a BOM, so spreadsheet programs read the Chinese"
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_an_operator_exports_without_personal_columns(
    app, client, sign_in, make_staff, cases_to_export, audit_of
):
    operator = make_staff(Role.OPERATOR)
    sign_in(client, operator)
    response = client.get("/console/cases/export.csv", query_string={"q": "138 0013 8000"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response)
    assert [r["case_number"] for r in rows] == [cases_to_export]
    assert set(rows[0]) == set(export.EXPORT_COLUMNS)
    body = response.get_data(as_text=True)
    for personal in ("王秀英", "13800138000", "朝阳区", "HYPERLINK"):
        assert personal not in body
    with app.app_context():
        entry = audit_of(db.session, "export")[-1]
        assert entry.operator_id == operator and entry.action == "csv_export"
        assert entry.after["is_personal"] is False and entry.after["rows"] == 1
        assert entry.after["filters"]["q"] == "+86*******8000", "the search term is masked"


def test_a_supervisor_exports_the_personal_columns(
    app, client, sign_in, make_staff, cases_to_export, audit_of
):
    supervisor = make_staff(Role.SUPERVISOR)
    sign_in(client, supervisor)
    rows = _rows(client.get("/console/cases/export.csv"))
    assert set(rows[0]) == set(export.EXPORT_COLUMNS + export.PERSONAL_EXPORT_COLUMNS)
    wang = next(r for r in rows if r["case_number"] == cases_to_export)
    assert (wang["caller_name"], wang["caller_phone"], wang["caller_district"]) == (
        "王秀英",
        "+8613800138000",
        "朝阳区",
    )
    assert wang["summary"] == '\'=HYPERLINK("x")', "formulas are defused"
    with app.app_context():
        entry = audit_of(db.session, "export")[-1]
        assert entry.operator_id == supervisor and entry.after["is_personal"] is True
        assert entry.after["rows"] == 2


def test_every_export_is_recorded(app, client, sign_in, make_staff, cases_to_export, audit_of):
    sign_in(client, make_staff())
    for _ in range(3):
        client.get("/console/cases/export.csv", query_string={"scenario": "medical"})
    with app.app_context():
        exports = audit_of(db.session, "export")
        assert len(exports) == 3
        assert all(e.after["filters"]["scenario"] == "medical" for e in exports)


def test_export_requires_sign_in(client):
    response = client.get("/console/cases/export.csv")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
