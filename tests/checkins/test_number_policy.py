"""Nothing is ever sent to numbers outside the number policy: a volunteer (or an elder) there
is refused at enrolment (service, CLI and console, with an error an administrator can act on),
and a volunteer whose number left the policy later is never texted by the cascade (the
supervisors are told at once instead, as when there is no volunteer)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.checkins import service
from hotline.checkins.models import CheckinEnrolment, EpisodeStatus
from hotline.db import db
from hotline.directory.models import Volunteer
from hotline.errors import InvalidInput
from hotline.operators.models import Role
from hotline.sms.models import SmsMessage, SmsStatus
from tests import factories

from .conftest import DAUGHTER_PHONE, ELDER_PHONE, VOLUNTEER_PHONE, episodes
from .test_call_and_cascade import _miss_every_call
from .test_console import _enrol_data, sign_in

ABROAD = "+447700900456"
REFUSAL = "country code +44 is not allowed (allowed: +86)"


def _elder_and_volunteer_abroad(session):
    caller = factories.make_caller(session, phone_number=ELDER_PHONE, display_name="王阿姨")
    volunteer = factories.make_volunteer(session, name="陈志愿", phone_number=ABROAD)
    return caller, volunteer


def test_the_service_refuses_a_volunteer_outside_the_number_policy(app, session):
    caller, volunteer = _elder_and_volunteer_abroad(session)
    with pytest.raises(InvalidInput) as refused:
        factories.make_enrolment(
            session,
            caller_id=caller.id,
            line_id=factories.main_line(session).id,
            volunteer_id=volunteer.id,
        )
    assert refused.value.en == (
        f"Volunteer 陈志愿's number is outside the number policy ({REFUSAL}), so the "
        "lost-contact text could never reach them. Correct the number on the volunteer roster, "
        "or choose another volunteer."
    )
    assert "志愿者陈志愿的号码不在号码政策允许的范围内" in refused.value.zh
    assert session.scalar(select(CheckinEnrolment)) is None


def test_changing_to_a_volunteer_outside_the_policy_is_refused(app, session):
    caller, abroad = _elder_and_volunteer_abroad(session)
    enrolment = factories.make_enrolment(
        session, caller_id=caller.id, line_id=factories.main_line(session).id
    )
    with pytest.raises(InvalidInput, match="outside the number policy"):
        service.update_schedule(session, enrolment, operator_id=None, volunteer_id=abroad.id)
    assert enrolment.volunteer_id is None


def test_the_cli_names_the_volunteer_and_what_to_do(app, runner):
    with app.app_context():
        _elder_and_volunteer_abroad(db.session)
        db.session.commit()
    result = runner.invoke(
        args=["checkins", "enrol", ELDER_PHONE, "--volunteer", ABROAD, "--consent", "elder_on_call"]
    )
    assert result.exit_code == 1
    assert f"error: Volunteer 陈志愿's number is outside the number policy ({REFUSAL})" in (
        result.output
    )
    assert "Correct the number on the volunteer roster" in result.output
    with app.app_context():
        assert db.session.scalar(select(CheckinEnrolment)) is None


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "Volunteer 陈志愿&#39;s number is outside the number policy"),
        ("zh", "志愿者陈志愿的号码不在号码政策允许的范围内"),
    ],
)
def test_the_console_enrol_form_shows_the_refusal(app, client, session, lang, message):
    caller, volunteer = _elder_and_volunteer_abroad(session)
    session.commit()
    sign_in(client, session, Role.OPERATOR, lang=lang)
    response = client.post(
        f"/console/checkins/enrol/{caller.id}",
        data=_enrol_data(session, volunteer_id=str(volunteer.id)),
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert session.scalar(select(CheckinEnrolment)) is None


def test_a_volunteer_whose_number_left_the_policy_is_never_texted(
    app, elder, jobs, fake_calls, twilio, clock, http_client
):
    with app.app_context():
        db.session.get(Volunteer, elder.volunteer_id).phone_number = ABROAD  # the roster changed
        db.session.commit()
    _miss_every_call(app, jobs, twilio, clock)
    [episode] = episodes(app)
    assert episode.status == EpisodeStatus.CASCADE
    assert episode.volunteer_sms_at is None, "nobody was told"
    assert episode.next_step_at == episode.case_opened_at, "no reply to wait for"
    jobs.send_sms()
    with app.app_context():
        texts = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
        by_number = {m.to_number: m for m in texts}
        assert by_number[ABROAD].status == SmsStatus.REFUSED, "recorded, with its reason"
        assert REFUSAL in by_number[ABROAD].status_reason
        assert by_number[DAUGHTER_PHONE].status != SmsStatus.REFUSED, "the family is still told"
        assert VOLUNTEER_PHONE not in by_number
    sent_to = [r.data.get("To") for r in http_client.requests if r.url.endswith("/Messages.json")]
    assert [ABROAD] not in sent_to
    jobs.cascade()  # the supervisors are alerted at once
    assert episodes(app)[0].supervisor_alerted_at is not None


def test_an_elder_outside_the_number_policy_is_refused_at_enrolment(app, runner):
    with app.app_context():
        factories.make_caller(db.session, phone_number=ABROAD, display_name="Mrs Wang")
        db.session.commit()
    result = runner.invoke(args=["checkins", "enrol", ABROAD, "--consent", "elder_on_call"])
    assert result.exit_code == 1
    assert (
        f"error: The elder's number is outside the number policy ({REFUSAL}), so no check-in "
        "call could be placed. Correct the number on the caller's profile first."
    ) in result.output
    with app.app_context():
        assert db.session.scalar(select(CheckinEnrolment)) is None
