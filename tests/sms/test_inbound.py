"""Texts to the line: cases, callbacks, opt-out and resume, help, and supervisor commands."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callers.models import Caller
from hotline.calls.models import WebhookEvent
from hotline.cases.models import Case, CaseStatus
from hotline.db import db
from hotline.sms.models import SmsDirection, SmsMessage, SmsOptOut, SmsPurpose, SmsStatus
from hotline.sms.outbox import queue_sms
from sms.fixtures import CALLER_PHONE, LINE_NUMBER, STRANGER_PHONE, SUPERVISOR_PHONE, sms_params


def _text(twilio, body, **kw):
    response = twilio.post("/twilio/sms", sms_params(body, **kw))
    assert response.status_code == 200, response.get_data(as_text=True)
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response" and len(root) == 0, "replies go through the outbox, not TwiML"
    return response


def _outbound(app, to=CALLER_PHONE) -> list[SmsMessage]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(SmsMessage)
                .where(SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.to_number == to)
                .order_by(SmsMessage.id)
            )
        )


def _cases(app) -> list[Case]:
    with app.app_context():
        return list(db.session.scalars(select(Case).order_by(Case.id)))


def test_a_text_opens_a_case_and_gets_a_short_acknowledgement(app, twilio, now):
    _text(twilio, "我想问一下养老金认证怎么办")
    (case,) = _cases(app)
    with app.app_context():
        caller = db.session.scalar(select(Caller).where(Caller.phone_number == CALLER_PHONE))
        inbound = db.session.scalar(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)
        )
    assert case.caller_id == caller.id
    assert (inbound.case_id, inbound.caller_id, inbound.status) == (
        case.id,
        caller.id,
        SmsStatus.RECEIVED,
    )
    assert inbound.body == "我想问一下养老金认证怎么办" and inbound.processed_at is not None
    (reply,) = _outbound(app)
    assert reply.kind == "ack" and reply.purpose == SmsPurpose.REPLY
    assert reply.body == (
        f"工单{case.number} 11-29 14:05 已收到您的短信，我们会尽快回复。要我们回电请回复1。"
    )
    assert reply.case_id == case.id and reply.status == SmsStatus.QUEUED


def test_more_texts_join_the_same_case_with_at_most_one_ack_per_half_hour(
    app, twilio, now, time_machine
):
    from datetime import timedelta

    _text(twilio, "你好")
    _text(twilio, "还在吗")
    assert len(_cases(app)) == 1
    assert len(_outbound(app)) == 1, "no second acknowledgement within 30 minutes"
    time_machine.move_to(now + timedelta(minutes=31), tick=False)
    _text(twilio, "请回复")
    assert [m.kind for m in _outbound(app)] == ["ack", "ack"]
    with app.app_context():
        inbound = db.session.scalars(
            select(SmsMessage.case_id).where(SmsMessage.direction == SmsDirection.INBOUND)
        ).all()
    assert len(set(inbound)) == 1 and len(inbound) == 3


def test_a_repeated_message_sid_is_handled_once(app, twilio, now):
    params = sms_params("你好", sid="SM" + "d" * 32)
    twilio.post("/twilio/sms", params)
    twilio.post("/twilio/sms", params)  # Twilio's retry: identical request
    twilio.post("/twilio/sms", {**params, "NumSegments": "2"})  # same sid, other parameters
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).where(SmsMessage.direction == SmsDirection.INBOUND)
            )
            == 1
        )
    assert len(_outbound(app)) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("1", "CALLBACK_WORDS"),
        (" １ ", "CALLBACK_WORDS"),
        ("1。", "CALLBACK_WORDS"),
        ("回电", "CALLBACK_WORDS"),
        ("回電", "CALLBACK_WORDS"),
        ("callback", "CALLBACK_WORDS"),
        ("Call back!", "CALLBACK_WORDS"),
        ("STOP", "STOP_WORDS"),
        ("stop", "STOP_WORDS"),
        ("退订", "STOP_WORDS"),
        ("TD", "STOP_WORDS"),
        ("ｔｄ", "STOP_WORDS"),
        ("START", "START_WORDS"),
        ("恢复", "START_WORDS"),
        ("帮助", "HELP_WORDS"),
        ("help", "HELP_WORDS"),
        ("？", "HELP_WORDS"),
        ("状态", "STATUS_WORDS"),
        ("Status", "STATUS_WORDS"),
        ("接受", "ACCEPT_WORDS"),
        ("yes", "ACCEPT_WORDS"),
        ("拒绝", "DECLINE_WORDS"),
        ("2", "DECLINE_WORDS"),
    ],
)
def test_keywords_are_recognised_in_the_ways_people_type_them(body, words):
    from hotline.sms import inbound

    assert inbound.keyword(body) in getattr(inbound, words)


@pytest.mark.parametrize("word", ["我要停止", "1 2", "回电话给我妈妈", "STOPPED"])
def test_longer_texts_are_not_keywords(word):
    from hotline.sms import inbound

    all_words = (
        inbound.STOP_WORDS | inbound.START_WORDS | inbound.HELP_WORDS | inbound.CALLBACK_WORDS
    )
    assert inbound.keyword(word) not in all_words


@pytest.mark.parametrize("body", ["1", "CALLBACK"])
def test_callback_keywords_book_a_callback_on_the_case(app, twilio, now, body):
    _text(twilio, body)
    with app.app_context():
        callback = db.session.scalar(select(CallbackRequest))
        case = db.session.scalar(select(Case))
    assert callback.reason == CallbackReason.SMS
    assert callback.phone_number == CALLER_PHONE and callback.original_arrival_at == now
    assert case.number in callback.note
    (reply,) = _outbound(app)
    assert reply.kind == "callback_requested"
    assert reply.body.startswith((f"工单{case.number} 11-29 14:05 ", f"Case {case.number} 29 Nov"))


def test_two_callback_texts_owe_one_callback(app, twilio, now):
    _text(twilio, "1")
    _text(twilio, "回电")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallbackRequest)) == 1


@pytest.mark.parametrize("word", ["退订", "Stop"])
def test_stop_opts_out_of_every_text_but_its_confirmation_and_start_resumes(
    app, twilio, line_id, now, word
):
    _text(twilio, word)
    with app.app_context():
        opt_out = db.session.scalar(select(SmsOptOut))
        assert opt_out.is_opted_out and opt_out.phone_number == CALLER_PHONE
        assert opt_out.trigger == word.upper()
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
        check_in = queue_sms(
            db.session,
            to=CALLER_PHONE,
            body="每周问候",
            purpose=SmsPurpose.CHECK_IN,
            line_id=line_id,
        )
        essential = queue_sms(
            db.session,
            to=CALLER_PHONE,
            body="没打通",
            purpose=SmsPurpose.CALLBACK_FAILED,
            line_id=line_id,
        )
        db.session.commit()
        assert check_in.status == SmsStatus.REFUSED
        reason = f"opted out ({word.upper()}): no texts until the person sends START"
        assert check_in.status_reason == reason
        # Not even "we could not reach you": nothing but the opt-out confirmation until START.
        assert (essential.status, essential.status_reason) == (SmsStatus.REFUSED, reason)
    confirmation = _outbound(app)[0]
    assert confirmation.kind == "opted_out" and "START" in confirmation.body

    _text(twilio, "START")
    with app.app_context():
        assert not db.session.scalar(select(SmsOptOut)).is_opted_out
        again = queue_sms(
            db.session,
            to=CALLER_PHONE,
            body="每周问候",
            purpose=SmsPurpose.CHECK_IN,
            line_id=line_id,
        )
        assert again.status == SmsStatus.QUEUED
    assert _outbound(app)[-1].kind == "resumed"


def test_help_answers_briefly_without_opening_a_case(app, twilio, now):
    _text(twilio, "帮助")
    (reply,) = _outbound(app)
    assert reply.kind == "help_caller" and reply.body.startswith("11-29 14:05 长者服务热线")
    assert _cases(app) == []


def test_replies_are_in_the_callers_language(app, twilio, make_caller, now):
    make_caller(phone_number=CALLER_PHONE, language="yue-HK")
    _text(twilio, "你好")
    assert _outbound(app)[0].body.startswith("個案")
    assert "我哋" in _outbound(app)[0].body


def test_an_english_text_from_an_unknown_number_gets_english(app, twilio, now):
    _text(twilio, "hello, can someone help me", from_="+8613123456777")
    (reply,) = _outbound(app, to="+8613123456777")
    assert reply.body.startswith("Case ") and "we got your message" in reply.body
    assert reply.language == "en"


def test_registered_supervisor_gets_the_live_status(app, twilio, make_supervisor, now):
    make_supervisor()
    _text(twilio, "状态", from_=SUPERVISOR_PHONE)
    (reply,) = _outbound(app, to=SUPERVISOR_PHONE)
    assert reply.kind == "status_reply" and reply.purpose == SmsPurpose.REPLY
    assert (
        reply.body
        == "11-29 14:05 排队0 最长- 空闲坐席0；今日来电0 接通0 20秒接通率-；待回电0 紧急工单0"
    )
    assert _cases(app) == [], "a supervisor's command is not a case"


def test_english_supervisor_status_and_help(app, twilio, make_supervisor, now):
    make_supervisor(lang="en")
    _text(twilio, "status", from_=SUPERVISOR_PHONE)
    _text(twilio, "what?", from_=SUPERVISOR_PHONE)
    replies = _outbound(app, to=SUPERVISOR_PHONE)
    assert [r.kind for r in replies] == ["status_reply", "help_supervisor"]
    assert replies[0].body.startswith("29 Nov 14:05: now 0 waiting")


def test_supervisor_commands_from_a_strangers_number_get_nothing_privileged(
    app, twilio, make_supervisor, make_operator, now
):
    make_supervisor()
    # An operator (not a supervisor) with a phone, and a supervisor no longer active, are
    # strangers to the commands too.
    make_operator("liu", phone_number="+8613123456781")
    make_supervisor("gone", "+8613800000005", is_active=False)
    for number in (STRANGER_PHONE, "+8613123456781", "+8613800000005"):
        _text(twilio, "状态", from_=number)
        (reply,) = _outbound(app, to=number)
        assert reply.kind == "ack", "treated as any caller's text"
        assert "排队" not in reply.body and "空闲坐席" not in reply.body


def test_unsigned_or_incomplete_texts_are_refused_and_nothing_is_written(app, twilio):
    response = twilio.post("/twilio/sms", sms_params("你好"), signature="bad")
    assert response.status_code == 403
    params = sms_params("你好")
    del params["From"]
    assert twilio.post("/twilio/sms", params).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_the_clock_sends_the_reply_and_adds_it_to_the_case(app, twilio, clock, texts_sent, now):
    from hotline.cases.models import CaseContact

    _text(twilio, "你好")
    clock.send()
    (sent,) = texts_sent()
    assert sent["To"] == CALLER_PHONE and sent["From"] == LINE_NUMBER
    assert sent["Body"].endswith("已收到您的短信，我们会尽快回复。要我们回电请回复1。")
    with app.app_context():
        kinds = db.session.scalars(select(CaseContact.kind).order_by(CaseContact.id)).all()
    assert [k.value for k in kinds] == ["sms_in", "sms_out"]


def test_a_reply_whose_case_was_closed_meanwhile_is_still_sent_once(
    app, twilio, clock, texts_sent, now
):
    from hotline.cases.models import CaseContact

    _text(twilio, "你好")
    with app.app_context():
        db.session.scalar(select(Case)).status = CaseStatus.CLOSED
        db.session.commit()
    clock.send()
    clock.send()
    assert len(texts_sent()) == 1
    assert _outbound(app)[0].status == SmsStatus.SENT
    with app.app_context():
        kinds = db.session.scalars(select(CaseContact.kind)).all()
    assert [k.value for k in kinds] == ["sms_in"], "a closed case is read-only"


def test_a_text_from_a_foreign_number_is_kept_but_never_answered(
    app, twilio, clock, texts_sent, now
):
    _text(twilio, "hello", from_="+447700900123")
    (reply,) = _outbound(app, to="+447700900123")
    assert reply.status == SmsStatus.REFUSED and "country code +44" in reply.status_reason
    clock.send()
    assert texts_sent() == []


def test_the_text_is_stored_at_once_and_its_effects_wait_for_the_guards_commit(app, now):
    """The inbound text and its claim are committed on arrival (Twilio never resends a text,
    so a dying worker must leave it for the sweep); what it causes (the caller's profile, the
    case, replies) only flushes, and the webhook guard commits it once."""
    from hotline.sms import inbound

    params = inbound.IncomingSms(
        message_sid="SM" + "4" * 32, from_=STRANGER_PHONE, to=LINE_NUMBER, body="你好", num_media=0
    )
    with app.app_context():
        row = inbound.receive_sms(db.session, params, region="CN")
        assert row is not None and row.processed_at is not None
        assert db.session.scalar(select(func.count()).select_from(Caller)) == 1
        db.session.rollback()
        (kept,) = db.session.scalars(select(SmsMessage)).all()
        assert kept.message_sid == params.message_sid
        assert kept.processed_at is None and kept.lease_expires_at is not None, "left for the sweep"
        assert db.session.scalar(select(func.count()).select_from(Caller)) == 0


def _killed_mid_callback_text(app, twilio, monkeypatch) -> None:
    """A "回电" text whose worker dies after the text was saved (committed on arrival) and
    before the callback and the reply: Twilio does not send the text again."""
    from hotline.sms import integration

    def die(*_args, **_kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(integration, "request_callback_by_sms", die)
        with pytest.raises(SystemExit):
            twilio.post("/twilio/sms", sms_params("回电"))
    with app.app_context():
        (row,) = db.session.scalars(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)
        ).all()
        assert row.processed_at is None and row.lease_expires_at is not None
        assert db.session.scalar(select(func.count()).select_from(CallbackRequest)) == 0


def test_a_text_interrupted_mid_way_is_finished_by_the_clock_once(
    app, twilio, now, monkeypatch, time_machine
):
    from hotline.sms.inbound import PROCESSING_LEASE
    from hotline.sms.jobs import JOBS, finish_interrupted_inbound

    assert "sms_inbound_sweep" in {job.id for job in JOBS}
    _killed_mid_callback_text(app, twilio, monkeypatch)

    def sweep() -> None:
        with app.app_context():
            finish_interrupted_inbound(app)

    sweep()  # the lease still runs: the dead worker might be a slow one
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallbackRequest)) == 0
    time_machine.move_to(now + PROCESSING_LEASE + timedelta(seconds=1), tick=False)
    sweep()
    sweep()
    with app.app_context():
        row = db.session.scalar(
            select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)
        )
        assert row.processed_at is not None and row.lease_expires_at is None
        assert db.session.scalar(select(func.count()).select_from(CallbackRequest)) == 1
    assert [m.kind for m in _outbound(app)] == ["callback_requested"], "one reply, once"


def test_a_sweep_and_a_late_webhook_retry_handle_the_text_once(
    app, twilio, now, monkeypatch, time_machine
):
    from hotline.sms import inbound
    from hotline.sms.jobs import finish_interrupted_inbound

    _killed_mid_callback_text(app, twilio, monkeypatch)
    time_machine.move_to(now + inbound.PROCESSING_LEASE + timedelta(seconds=1), tick=False)
    with app.app_context():
        (sms_id,) = inbound.stale_inbound_ids(db.session)
        sid = db.session.get(SmsMessage, sms_id).message_sid
        finish_interrupted_inbound(app)
        assert inbound.stale_inbound_ids(db.session) == []
        assert inbound.finish_stale_inbound(db.session, sms_id, region="CN") is False
    _text(twilio, "回电", sid=sid)  # Twilio's own retry arriving late: already handled
    assert [m.kind for m in _outbound(app)] == ["callback_requested"]
