"""Privacy: retention with a frozen clock, recordings deleted at Twilio, phone numbers masked
in logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.callers import service as callers
from hotline.callers.models import Caller, FamilyContact
from hotline.calls.models import Call
from hotline.cases import jobs, lifecycle, privacy
from hotline.cases.models import Case, CaseNote, CaseStatus
from hotline.db import db
from hotline.sms.models import SmsPurpose
from hotline.sms.service import queue_sms

LONG_AGO = datetime(2023, 3, 1, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
RETENTION_DAYS = 730
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "0123456789abcdef" * 2


def _caller(session, number, **fields):
    caller = Caller(phone_number=number, created_at=LONG_AGO, last_contact_at=LONG_AGO, **fields)
    session.add(caller)
    session.flush()
    return caller


def _old_history(session, caller, line_id, operator):
    """A resolved case, a voicemail with its recording, a text and a family contact, years ago."""
    with time_machine.travel(LONG_AGO, tick=False):
        call = Call(
            call_sid=f"CA{caller.id:032d}",
            line_id=line_id,
            caller_id=caller.id,
            direction="inbound",
            status="completed",
            menu_path=[],
            from_number=caller.phone_number,
            recording_url=RECORDING,
        )
        session.add(call)
        case = lifecycle.open_case(
            session, caller_id=caller.id, line_id=line_id, channel="call", scenario="medical"
        )
        lifecycle.update_summary(session, case, summary="王阿姨想约心内科", operator_id=operator)
        lifecycle.add_note(session, case, text="她女儿李丽的电话 13900139000", operator_id=operator)
        lifecycle.resolve(session, case, outcome="answered", note="已告知", operator_id=operator)
        queue_sms(
            session,
            to=caller.phone_number,
            body="您的工单已处理",
            purpose=SmsPurpose.REPLY,
            line_id=line_id,
            caller_id=caller.id,
            case_id=case.id,
        )
        callers.add_family_contact(
            session, caller.id, name="李丽", phone_number="13900139000", operator_id=operator
        )
    session.commit()
    return case, call


def test_inactive_callers_are_anonymised_after_the_retention_period(
    session, line_id, make_staff, audit_of
):
    operator = make_staff()
    old = _caller(
        session,
        "+8613800138000",
        name="王秀英",
        display_name="王阿姨",
        district="朝阳区",
        age_band="80_89",
        is_older_caller=True,
    )
    case, _call = _old_history(session, old, line_id, operator)
    active = _caller(session, "+8613900139001", name="李建国")
    session.add(
        Call(
            call_sid="CArecent",
            line_id=line_id,
            caller_id=active.id,
            direction="inbound",
            status="completed",
            menu_path=[],
            created_at=NOW - timedelta(days=30),
        )
    )
    with_open_case = _caller(session, "+8613900139002", name="陈伯")
    with time_machine.travel(LONG_AGO, tick=False):
        lifecycle.open_case(session, caller_id=with_open_case.id, line_id=line_id, channel="call")
    owed_callback = _caller(session, "+8613900139003")
    session.add(
        CallbackRequest(
            line_id=line_id,
            caller_id=owed_callback.id,
            phone_number=owed_callback.phone_number,
            reason=CallbackReason.ABANDONED,
            original_arrival_at=LONG_AGO,
            due_at=NOW,
            created_at=LONG_AGO,
        )
    )
    session.commit()

    with time_machine.travel(NOW, tick=False):
        assert privacy.anonymise_inactive_callers(session, NOW, retention_days=RETENTION_DAYS) == 1
        # A second run (or a second clock process) finds nothing more to do.
        assert privacy.anonymise_inactive_callers(session, NOW, retention_days=RETENTION_DAYS) == 0

    session.expire_all()
    old = session.get(Caller, old.id)
    assert old.anonymised_at == NOW
    assert (old.name, old.display_name, old.district, old.phone_number) == (
        "",
        "",
        "",
        f"anon-{old.id}",
    )
    assert old.age_band.value == "80_89" and old.is_older_caller, "kept for statistics"
    assert session.scalars(select(FamilyContact)).all() == []
    case = session.get(Case, case.id)
    assert case.scenario == "medical" and case.status == CaseStatus.RESOLVED
    assert case.summary == "" and case.outcome_note == ""
    assert [n.text for n in session.scalars(select(CaseNote))] == [privacy.ANONYMISED_TEXT]
    from hotline.sms.models import SmsMessage

    message = session.scalar(select(SmsMessage))
    assert message.body == "" and message.to_number == "anon"
    assert session.scalar(select(Call).where(Call.caller_id == old.id)).from_number == ""
    entry = audit_of(session, "caller", old.id)[-1]
    assert (entry.action, entry.actor) == ("anonymised", "system:retention")
    for kept in (active, with_open_case, owed_callback):
        assert session.get(Caller, kept.id).anonymised_at is None


def test_nobody_is_anonymised_before_the_period_ends(session, line_id, make_staff):
    old = _caller(session, "+8613800138000", name="王秀英")
    _old_history(session, old, line_id, make_staff())
    almost = LONG_AGO + timedelta(days=RETENTION_DAYS - 1)
    with time_machine.travel(almost, tick=False):
        assert (
            privacy.anonymise_inactive_callers(session, almost, retention_days=RETENTION_DAYS) == 0
        )


def test_a_call_from_a_merged_number_keeps_the_person(session, line_id, make_staff):
    keep = _caller(session, "+8613800138000")
    alias = _caller(session, "+861062345678")
    session.commit()
    callers.merge_callers(session, keep_id=keep.id, merge_id=alias.id, operator_id=make_staff())
    session.add(
        Call(
            call_sid="CAalias",
            line_id=line_id,
            caller_id=alias.id,
            direction="inbound",
            status="completed",
            menu_path=[],
            created_at=NOW - timedelta(days=3),
        )
    )
    session.commit()
    assert privacy.anonymise_inactive_callers(session, NOW, retention_days=RETENTION_DAYS) == 0


def test_recordings_are_deleted_at_twilio_once(
    app, session, line_id, make_staff, http_client, audit_of
):
    old = _caller(session, "+8613800138000")
    _case, call = _old_history(session, old, line_id, make_staff())
    session.add(
        Call(
            call_sid="CAanon",
            line_id=line_id,
            caller_id=None,
            direction="inbound",
            status="completed",
            menu_path=[],
            created_at=LONG_AGO,
            recording_url=RECORDING.replace("0123", "9999"),
        )
    )
    gone = RECORDING.replace("0123", "4444")
    session.add(
        Call(
            call_sid="CAgone",
            line_id=line_id,
            caller_id=None,
            direction="inbound",
            status="completed",
            menu_path=[],
            created_at=LONG_AGO,
            recording_url=gone,
        )
    )
    session.commit()
    http_client.responses.append(
        (r"DELETE .*RE4444", (404, {"code": 20404, "message": "not found", "status": 404}))
    )
    app.config["CALLER_RETENTION_DAYS"] = RETENTION_DAYS
    with time_machine.travel(NOW, tick=False):
        jobs.run_retention(app)
        jobs.run_retention(app)
    deletes = http_client.find("DELETE", "/Recordings/")
    assert len(deletes) == 3, [r.url for r in deletes]
    assert any(call_sid in r.url for r in deletes for call_sid in ("RE0123",))
    session.expire_all()
    assert (
        session.scalars(select(Call.recording_url).where(Call.recording_url.is_not(None))).all()
        == []
    )
    assert len(audit_of(session, "call")) == 3


def test_a_failed_recording_deletion_is_retried(session, line_id, make_staff, http_client):
    from hotline.telephony.gateway import get_gateway

    old = _caller(session, "+8613800138000")
    _old_history(session, old, line_id, make_staff())
    with time_machine.travel(NOW, tick=False):
        privacy.anonymise_inactive_callers(session, NOW, retention_days=RETENTION_DAYS)
        http_client.responses.append(
            (r"DELETE", (500, {"code": 20500, "message": "oops", "status": 500}))
        )
        assert (
            privacy.delete_recordings(
                session, NOW, retention_days=RETENTION_DAYS, gateway=get_gateway()
            )
            == 0
        )
        http_client.responses.clear()
        assert (
            privacy.delete_recordings(
                session, NOW, retention_days=RETENTION_DAYS, gateway=get_gateway()
            )
            == 1
        )


def test_erasing_on_request_cancels_pending_callbacks(session, line_id, make_staff):
    caller = _caller(session, "+8613800138000", name="王秀英")
    session.add(
        CallbackRequest(
            line_id=line_id,
            caller_id=caller.id,
            phone_number=caller.phone_number,
            reason=CallbackReason.OPERATOR,
            original_arrival_at=NOW,
            due_at=NOW,
        )
    )
    session.commit()
    privacy.anonymise_caller(
        session, caller.id, operator_id=make_staff(), actor="operator:erase_request"
    )
    session.commit()
    callback = session.scalar(select(CallbackRequest))
    assert callback.status == CallbackStatus.CANCELED and callback.phone_number == "anon"


def test_phone_numbers_are_masked_in_logs(caplog):
    logger = logging.getLogger("hotline.test_masking")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    logger.addHandler(handler)
    privacy.install_log_masking(logger)
    try:
        logger.warning(
            "call from %s to 0086 138 0013 8000 about case 20261129-0042", "+8613800138000"
        )
    finally:
        logger.removeHandler(handler)
    message = records[0].getMessage()
    assert "13800138000" not in message and "138 0013 8000" not in message
    assert "+86*******8000" in message and "20261129-0042" in message
    assert privacy.mask_numbers("case 20261129-0042, 3 calls") == "case 20261129-0042, 3 calls"


def test_jobs_are_registered_with_the_clock():
    from hotline.clock import registered_jobs

    ids = {job.id for job in registered_jobs()}
    assert {"cases_follow_ups", "cases_auto_close", "cases_retention"} <= ids


def test_old_resolved_cases_are_closed_by_the_clock(app, session, line_id):
    with time_machine.travel(LONG_AGO, tick=False):
        case = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="call")
        lifecycle.resolve(session, case, outcome="answered", operator_id=None)
        fresh = lifecycle.open_case(session, caller_id=None, line_id=line_id, channel="call")
        session.commit()
    with time_machine.travel(LONG_AGO + timedelta(days=5), tick=False):
        lifecycle.resolve(session, fresh, outcome="answered", operator_id=None)
        session.commit()
        jobs.run_auto_close(app)
    with time_machine.travel(LONG_AGO + timedelta(days=31), tick=False):
        jobs.run_auto_close(app)
    session.expire_all()
    assert session.get(Case, case.id).status == CaseStatus.CLOSED
    assert session.get(Case, fresh.id).status == CaseStatus.RESOLVED
    with app.app_context():
        assert db.session.get(Case, case.id).closed_at is not None
