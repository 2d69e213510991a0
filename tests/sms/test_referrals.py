"""Referrals: a case referred to a community volunteer texts them; their reply lands on the case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.cases import lifecycle, referrals
from hotline.cases import models as cases_models
from hotline.db import db
from hotline.sms.models import SmsMessage, SmsPurpose, SmsStatus
from sms.fixtures import CALLER_PHONE, sms_params

VOLUNTEER_PHONE = "+8613700000001"


@pytest.fixture
def referral(app, line_id, make_caller, now):
    """王阿姨's case about a hospital visit, referred to a volunteer (returns the case number)."""
    caller_id = make_caller(phone_number=CALLER_PHONE, display_name="王阿姨")
    with app.app_context():
        case = lifecycle.open_or_continue_case(
            db.session, caller_id=caller_id, line_id=line_id, channel="call", scenario="medical"
        )
        referrals.refer_case(
            db.session,
            case,
            target_kind="volunteer",
            target_name="张志愿者",
            target_number="137 0000 0001",
            reason="周三上午陪同去社区医院复诊",
            operator_id=None,
        )
        db.session.commit()
        return case.number


def _texts_to(app, number) -> list[SmsMessage]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(SmsMessage).where(SmsMessage.to_number == number).order_by(SmsMessage.id)
            )
        )


def _referral(app):
    with app.app_context():
        return db.session.scalar(select(cases_models.Referral))


def test_a_new_referral_texts_the_volunteer(app, referral, clock, texts_sent):
    (offer,) = _texts_to(app, VOLUNTEER_PHONE)
    assert offer.purpose == SmsPurpose.REFERRAL and offer.kind == "referral_offer"
    assert offer.status == SmsStatus.QUEUED
    assert offer.body == (
        f"工单{referral} 11-29 14:05 转介：王阿姨，就医。周三上午陪同去社区医院复诊。"
        "接受回复1，不能接回复2。"
    )
    assert CALLER_PHONE not in offer.body, "the elder's number is handed over by phone"
    assert _referral(app).sms_id == offer.id
    clock.send()
    (sent,) = texts_sent()
    assert (sent["To"], sent["Body"]) == (VOLUNTEER_PHONE, offer.body)


@pytest.mark.parametrize(
    ("reply", "status", "kind"),
    [("1", "accepted", "referral_accepted"), ("拒绝", "declined", "referral_declined")],
)
def test_the_volunteers_answer_lands_on_the_referral_and_the_case(
    app, referral, twilio, reply, status, kind
):
    twilio.post("/twilio/sms", sms_params(reply, from_=VOLUNTEER_PHONE))
    answered = _referral(app)
    assert answered.status.value == status and answered.response_text == reply
    answer = _texts_to(app, VOLUNTEER_PHONE)[-1]
    assert answer.kind == kind and answer.body.startswith(f"工单{referral} 11-29 14:05 ")
    with app.app_context():
        contact = db.session.scalar(
            select(cases_models.CaseContact).where(cases_models.CaseContact.kind == "sms_in")
        )
        inbound = db.session.get(SmsMessage, contact.sms_id)
    assert contact.referral_id == answered.id and contact.note == reply
    assert inbound.body == reply and inbound.case_id == answered.case_id


def test_an_unclear_reply_is_noted_and_asked_again(app, referral, twilio):
    twilio.post("/twilio/sms", sms_params("周三下午可以吗", from_=VOLUNTEER_PHONE))
    assert _referral(app).status.value == "pending"
    answer = _texts_to(app, VOLUNTEER_PHONE)[-1]
    assert answer.kind == "referral_unclear"
    with app.app_context():
        notes = db.session.scalars(select(cases_models.CaseContact.note)).all()
    assert "周三下午可以吗" in notes


def test_a_referral_to_an_agency_sends_no_text(app, line_id, make_caller, now):
    caller_id = make_caller(phone_number=CALLER_PHONE)
    with app.app_context():
        case = lifecycle.open_or_continue_case(
            db.session, caller_id=caller_id, line_id=line_id, channel="call"
        )
        referrals.refer_case(
            db.session,
            case,
            target_kind="agency",
            target_name="街道民政科",
            target_number="+861087654321",
            reason="低保申请",
            operator_id=None,
        )
        db.session.commit()
        assert db.session.scalar(select(SmsMessage.id)) is None
