"""Referring a case to a volunteer picked from the roster (hotline.directory) or an agency of
the directory: the name and number come from there, and the volunteer's offer SMS is queued."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from hotline.cases.models import Referral, ReferralTarget
from hotline.db import db
from hotline.directory.models import Agency, AgencyKind, ConsentWay, Volunteer
from hotline.operators.models import Role
from hotline.sms.models import SmsMessage, SmsPurpose


@pytest.fixture
def directory(app):
    """An active and an inactive volunteer, and the ambulance (a short code)."""
    with app.app_context():
        rows = [
            Volunteer(
                name="王志愿者",
                phone_number="+8613800000701",
                district="东城街道",
                consented_on=date(2026, 3, 1),
                consent_way=ConsentWay.IN_WRITING,
            ),
            Volunteer(
                name="停用志愿者",
                phone_number="+8613800000702",
                is_active=False,
                consented_on=date(2026, 3, 1),
                consent_way=ConsentWay.IN_WRITING,
            ),
            Agency(name="急救中心", kind=AgencyKind.EMERGENCY, phone_number="120"),
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def test_a_volunteer_from_the_roster_gets_the_referral_sms(
    app, client, sign_in, make_staff, open_case, make_caller, directory
):
    volunteer_id, inactive_id, agency_id = directory
    number = open_case(make_caller(district="东城街道"))
    sign_in(client, make_staff(Role.OPERATOR), lang="en")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "王志愿者 · 东城街道" in page and "停用志愿者" not in page
    refused = client.post(
        f"/console/cases/{number}/referral",
        data={"volunteer_id": str(inactive_id), "target_kind": "agency", "reason": "陪同"},
    )
    assert refused.status_code == 400
    assert "not on the active roster" in refused.get_data(as_text=True)
    ok = client.post(
        f"/console/cases/{number}/referral",
        data={"volunteer_id": str(volunteer_id), "target_kind": "agency", "reason": "陪同去医院"},
    )
    assert ok.status_code == 303
    agency = client.post(
        f"/console/cases/{number}/referral",
        data={"agency_id": str(agency_id), "target_kind": "agency", "reason": "胸痛"},
    )
    assert agency.status_code == 303
    with app.app_context():
        to_volunteer, to_agency = db.session.scalars(select(Referral).order_by(Referral.id)).all()
        assert to_volunteer.target_kind == ReferralTarget.VOLUNTEER
        assert (to_volunteer.target_name, to_volunteer.target_number) == (
            "王志愿者",
            "+8613800000701",
        )
        sms = db.session.get(SmsMessage, to_volunteer.sms_id)
        assert sms.purpose == SmsPurpose.REFERRAL and sms.to_number == "+8613800000701"
        assert (to_agency.target_kind, to_agency.target_number) == (ReferralTarget.AGENCY, "120")
        assert to_agency.sms_id is None, "agencies are contacted by the operator"
