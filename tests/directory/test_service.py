"""The directory's one validation, the roster order for a referral, the CLI, and erasure."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline.cases import privacy
from hotline.db import db
from hotline.directory import service
from hotline.directory.models import AgencyKind, Volunteer, VolunteerElder
from tests import factories
from tests.directory.conftest import roster_csv

BASE = {
    "name": "张志愿者",
    "phone_number": "+8613800000301",
    "consented_on": "2026-03-01",
    "consent_way": "in_writing",
}


def test_agency_short_codes_only_for_their_kinds(app):
    with app.app_context():
        for kind, number, ok in [
            (AgencyKind.EMERGENCY, "120", True),
            (AgencyKind.EMERGENCY, "110", True),
            (AgencyKind.GOVERNMENT_SERVICE, "12345", True),
            (AgencyKind.MEDICAL, "120", False),
            (AgencyKind.OTHER, "12345", False),
            (AgencyKind.MEDICAL, "010 6512 3456", True),
        ]:
            clean, problems = service.check_agency(
                db.session, {"name": "x", "kind": kind.value, "phone_number": number}
            )
            assert (clean is not None) == ok, (kind, number, problems)


def test_volunteer_check_refuses_bad_values(app):
    with app.app_context():
        for change, field in [
            ({"name": " "}, "name"),
            ({"phone_number": "not a number"}, "phone_number"),
            ({"phone_number": "sip:someone@example.org"}, "phone_number"),
            ({"consented_on": "2999-01-01"}, "consented_on"),
            ({"consented_on": "01/03/2026"}, "consented_on"),
            ({"consent_way": "told a friend"}, "consent_way"),
            ({"is_active": "maybe"}, "is_active"),
        ]:
            clean, problems = service.check_volunteer(db.session, {**BASE, **change})
            assert clean is None and set(problems) == {field}, (change, problems)
        clean, problems = service.check_volunteer(db.session, BASE)
        assert problems == {} and clean["is_active"] is True


def test_the_roster_puts_the_elders_own_volunteer_then_the_same_district_first(app):
    with app.app_context():
        session = db.session
        elder = factories.make_caller(session, district="东城街道")
        rows = [
            ("Dan", "+8613800000401", "西城街道", ""),
            ("Bea", "+8613800000402", "东城街道", ""),
            ("Cy", "+8613800000403", "南城街道", elder.phone_number),
            ("Bo", "+8613800000404", "东城街道", ""),
        ]
        for name, number, district, elders in rows:
            clean, problems = service.check_volunteer(
                session,
                {
                    **BASE,
                    "name": name,
                    "phone_number": number,
                    "district": district,
                    "elders": elders,
                },
            )
            assert not problems
            service.create_volunteer(session, clean, operator_id=None)
        inactive, _ = service.check_volunteer(
            session,
            {
                **BASE,
                "name": "Eve",
                "phone_number": "+8613800000405",
                "is_active": "no",
                "district": "东城街道",
            },
        )
        service.create_volunteer(session, inactive, operator_id=None)
        assert [v.name for v in service.roster_for_caller(session, elder.id)] == [
            "Cy",
            "Bea",
            "Bo",
            "Dan",
        ], "this elder's volunteer, the same district (by name), the others"
        assert {v.name for v in service.roster_for_caller(session, None)} == {
            "Bea",
            "Bo",
            "Cy",
            "Dan",
        }


def test_erasing_an_elder_removes_the_link_and_keeps_the_volunteer(app):
    with app.app_context():
        session = db.session
        elder = factories.make_caller(session)
        clean, _ = service.check_volunteer(session, {**BASE, "elders": elder.phone_number})
        volunteer = service.create_volunteer(session, clean, operator_id=None)
        assert service.elder_ids(session, volunteer.id) == [elder.id]
        privacy.anonymise_caller(session, elder.id, operator_id=None, actor="system:test")
        session.commit()
        assert session.scalar(select(func.count()).select_from(VolunteerElder)) == 0
        assert session.get(Volunteer, volunteer.id) is not None


def test_cli_import_reports_bad_rows_and_imports_only_when_confirmed(app, runner, tmp_path):
    with app.app_context():
        factories.make_caller(db.session, phone_number="+8613900000001")
        db.session.commit()
    path = tmp_path / "roster.csv"
    path.write_text(
        roster_csv(
            10,
            bad_rows=(
                "坏号码,12,,,,,yes,2026-03-01,in_writing",
                "重复,+8613800000100,,,,+8613900000001,yes,2026-03-01,in_writing",
            ),
        ),
        encoding="utf-8",
    )
    refused = runner.invoke(args=["volunteers", "import", str(path)])
    assert refused.exit_code == 1
    assert "row 12: phone_number: This is not a valid phone number." in refused.output
    assert "row 13: phone_number: This number is already on the roster." in refused.output
    assert "nothing imported" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Volunteer)) == 0
    confirmed = runner.invoke(args=["volunteers", "import", str(path), "--confirm"])
    assert confirmed.exit_code == 1, "still says some rows were left out"
    assert "imported 10 volunteer(s)" in confirmed.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Volunteer)) == 10
    exported = runner.invoke(args=["volunteers", "export"])
    assert exported.exit_code == 0 and exported.output.count("in_writing") == 10
    clean_file = tmp_path / "more.csv"
    clean_file.write_text(
        "name,phone_number,consented_on,consent_way,elders\n"
        "新人,+8613800000501,2026-04-01,by_phone,+8613900000001\n",
        encoding="utf-8",
    )
    ok = runner.invoke(args=["volunteers", "import", str(clean_file)])
    assert ok.exit_code == 0 and "imported 1 volunteer(s)" in ok.output
    missing = tmp_path / "missing.csv"
    missing.write_text("name,phone\n甲,+8613800000601\n", encoding="utf-8")
    bad_file = runner.invoke(args=["volunteers", "import", str(missing)])
    assert bad_file.exit_code == 1 and "lacks these columns" in bad_file.output
