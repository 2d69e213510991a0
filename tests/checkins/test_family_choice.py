"""The family told when an elder cannot be reached: chosen per enrolment among the family
contacts whose consent to alerts is recorded, in the console and the service, and only those
are texted by the cascade."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.callers.models import ConsentMethod, FamilyContact
from hotline.checkins import cascade, service
from hotline.checkins.models import CheckinEnrolment, EpisodeStatus
from hotline.directory.models import Volunteer
from hotline.errors import InvalidInput
from hotline.operators.models import Role
from hotline.sms.models import SmsMessage
from hotline.timeutil import local_day, utcnow
from tests import factories
from tests.checkins.episodes import make_episode, missed
from tests.checkins.test_console import sign_in

DAUGHTER, SON, NEIGHBOUR = "+8613800000301", "+8613800000302", "+8613800000303"


@pytest.fixture
def family(session):
    """An elder with a daughter and a son who may be told, and a neighbour without consent."""
    recorder = factories.make_operator(session)
    caller = factories.make_caller(session, phone_number="+861055550301", display_name="王阿姨")
    contacts = {}
    for name, number, consented in (("女儿", DAUGHTER, True), ("儿子", SON, True)) + (
        ("邻居", NEIGHBOUR, False),
    ):
        contact = FamilyContact(
            caller_id=caller.id,
            name=name,
            phone_number=number,
            may_receive_alerts=True,
            consented_at=utcnow() - timedelta(days=3) if consented else None,
            consent_method=ConsentMethod.ELDER_IN_PERSON if consented else None,
            consent_recorded_by=recorder.id if consented else None,
        )
        session.add(contact)
        session.flush()
        contacts[name] = contact.id
    factories.make_volunteer(session)
    session.commit()
    return caller, contacts


def test_the_service_keeps_only_consented_contacts(session, family):
    caller, ids = family
    line = factories.main_line(session)
    with pytest.raises(InvalidInput):
        factories.make_enrolment(
            session, caller_id=caller.id, line_id=line.id, family_contact_ids=[ids["邻居"]]
        )
    enrolment = factories.make_enrolment(
        session, caller_id=caller.id, line_id=line.id, family_contact_ids=[ids["女儿"]]
    )
    assert enrolment.family_contact_ids == [ids["女儿"]]
    assert enrolment.tells_family_contact(ids["女儿"])
    assert not enrolment.tells_family_contact(ids["儿子"])
    service.update_schedule(session, enrolment, operator_id=None, family_contact_ids=None)
    assert enrolment.tells_family_contact(ids["儿子"]), "None: every consented contact"


def test_the_cascade_texts_only_the_chosen_family(session, family):
    caller, ids = family
    enrolment = factories.make_enrolment(
        session,
        caller_id=caller.id,
        line_id=factories.main_line(session).id,
        family_contact_ids=[ids["儿子"]],
    )
    today = local_day(utcnow(), "Asia/Shanghai")
    episode = make_episode(session, enrolment, today, EpisodeStatus.CASCADE, **missed(today))
    cascade.start_cascade(session, episode, utcnow())
    session.commit()
    texted = session.scalars(
        select(SmsMessage.to_number).where(SmsMessage.kind == "checkin_family")
    ).all()
    assert texted == [SON]
    assert episode.family_sms_count == 1


def test_the_enrol_form_offers_the_consented_family_all_ticked(app, client, session, family):
    caller, ids = family
    sign_in(client, session, Role.OPERATOR)
    page = client.get(f"/console/checkins/enrol/{caller.id}").get_data(as_text=True)
    for name in ("女儿", "儿子"):
        assert f'name="family_contact_ids" value="{ids[name]}" checked' in page, name
    assert f'name="family_contact_ids" value="{ids["邻居"]}"' not in page, "not consented"

    data = {
        "line_id": str(factories.main_line(session).id),
        "calendar_rule": "every_day",
        "window_start": "09:00",
        "window_end": "10:00",
        "retry_minutes": "20",
        "volunteer_id": str(session.scalar(select(Volunteer.id))),
        "family_contact_ids": [str(ids["女儿"])],
        "consented_at": (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "consent_method": "elder_on_call",
        "consent_witness": "坐席 刘",
    }
    forged = {**data, "family_contact_ids": [str(ids["邻居"])]}
    response = client.post(f"/console/checkins/enrol/{caller.id}", data=forged)
    assert response.status_code == 400
    assert "Please choose from the list." in response.get_data(as_text=True)
    assert session.scalar(select(CheckinEnrolment)) is None
    response = client.post(f"/console/checkins/enrol/{caller.id}", data=data)
    assert response.status_code == 303
    session.expire_all()
    enrolment = session.scalar(select(CheckinEnrolment))
    assert enrolment.family_contact_ids == [ids["女儿"]] and enrolment.notify_family
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "女儿" in page[page.index("Family told") :][:200]
    assert "儿子" not in page[page.index("Family told") :][:200]
