"""Family proxies by text (issue 17, item 6): 回电 from a consented family contact who may
request callbacks books a callback to the ELDER, on the elder's case; anyone else asking for
the elder gets a polite refusal and nothing is booked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callers.models import Caller, CallerRestriction, ConsentMethod, FamilyContact
from hotline.cases.models import Case, CaseContact
from hotline.db import db
from hotline.segments import segment_count
from hotline.sms.models import SmsDirection, SmsMessage
from hotline.timeutil import utcnow
from sms.fixtures import sms_params
from tests import factories

ELDER_PHONE = "+8613100000001"
DAUGHTER_PHONE = "+8613100000002"


@pytest.fixture
def family(app, now):
    """An elder, 王阿姨, and her daughter's number as a family contact; returns a setter for
    the contact's permission and consent."""

    def _make(*, may_request_callbacks=True, consented=True, language="zh-CN"):
        with app.app_context():
            operator = factories.make_operator(db.session, "recorder")
            elder = factories.make_caller(
                db.session, phone_number=ELDER_PHONE, display_name="王阿姨", language=language
            )
            db.session.add(
                FamilyContact(
                    caller_id=elder.id,
                    name="小王",
                    relation="女儿",
                    phone_number=DAUGHTER_PHONE,
                    may_request_callbacks=may_request_callbacks,
                    consented_at=utcnow() if consented else None,
                    consent_method=ConsentMethod.ELDER_ON_CALL if consented else None,
                    consent_recorded_by=operator.id if consented else None,
                )
            )
            db.session.commit()
            return elder.id

    return _make


def _text(twilio, body):
    response = twilio.post("/twilio/sms", sms_params(body, from_=DAUGHTER_PHONE))
    assert response.status_code == 200, response.get_data(as_text=True)


def _replies() -> list[SmsMessage]:
    return list(
        db.session.scalars(
            select(SmsMessage)
            .where(SmsMessage.direction == SmsDirection.OUTBOUND)
            .order_by(SmsMessage.id)
        )
    )


@pytest.mark.parametrize("body", ["回电", "1", "CALLBACK"])
def test_a_consented_family_contact_asks_a_callback_for_the_elder(app, twilio, family, now, body):
    elder_id = family()
    _text(twilio, body)
    with app.app_context():
        (callback,) = db.session.scalars(select(CallbackRequest)).all()
        (case,) = db.session.scalars(select(Case)).all()
        assert (callback.reason, callback.phone_number) == (CallbackReason.FAMILY, ELDER_PHONE)
        assert callback.caller_id == elder_id and callback.case_id == case.id
        assert callback.original_arrival_at == now and "女儿" in callback.note
        assert case.caller_id == elder_id, "on the elder's case, not the family member's"
        inbound = db.session.scalar(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)
        )
        contact = db.session.scalar(select(CaseContact).where(CaseContact.sms_id == inbound.id))
        assert contact.case_id == case.id and contact.note.startswith("小王 (女儿): ")
        (reply,) = _replies()
        assert reply.to_number == DAUGHTER_PHONE and reply.kind == "family_callback_requested"
        if body == "CALLBACK":  # an English word from an unknown number: the answer in English
            assert reply.body == f"Case {case.number} 29 Nov 14:05: we will call 王阿姨 back soon."
        else:
            assert reply.body == f"工单{case.number} 11-29 14:05 好的，我们会尽快给王阿姨回电。"
        assert segment_count(reply.body) == 1


def test_the_acknowledgement_is_in_the_family_members_stored_language(app, twilio, family, now):
    family()
    with app.app_context():
        factories.make_caller(db.session, phone_number=DAUGHTER_PHONE, language="yue-HK")
        db.session.commit()
    _text(twilio, "1")
    with app.app_context():
        (reply,) = _replies()
        assert reply.body.endswith(" 好，我哋會盡快打返畀王阿姨。")


@pytest.mark.parametrize(
    "contact",
    [{"may_request_callbacks": False}, {"consented": False}],
    ids=["without the permission", "without the elder's consent"],
)
def test_a_family_contact_who_may_not_ask_gets_a_polite_refusal(app, twilio, family, now, contact):
    family(**contact)
    _text(twilio, "回电")
    with app.app_context():
        assert db.session.scalars(select(CallbackRequest)).all() == []
        assert db.session.scalars(select(Case)).all() == [], "nothing opened for the elder"
        (reply,) = _replies()
        assert reply.kind == "family_callback_refused" and reply.to_number == DAUGHTER_PHONE
        assert "抱歉" in reply.body and "王阿姨" not in reply.body
        assert segment_count(reply.body) == 1


def test_other_texts_from_a_family_contact_are_their_own(app, twilio, family, now):
    family()
    _text(twilio, "我妈妈最近身体不好")
    with app.app_context():
        (case,) = db.session.scalars(select(Case)).all()
        sender = db.session.scalar(select(Caller).where(Caller.phone_number == DAUGHTER_PHONE))
        assert case.caller_id == sender.id
        assert db.session.scalars(select(CallbackRequest)).all() == []
        assert _replies()[0].kind == "ack"


def test_a_blocked_family_contact_books_nothing_for_the_elder(app, twilio, family, now):
    family()
    with app.app_context():
        factories.make_caller(
            db.session,
            phone_number=DAUGHTER_PHONE,
            restriction=CallerRestriction.BLOCK,
            restriction_reason="abusive texts",
        )
        db.session.commit()
    _text(twilio, "回电")
    with app.app_context():
        assert db.session.scalars(select(CallbackRequest)).all() == []
        assert _replies() == []
