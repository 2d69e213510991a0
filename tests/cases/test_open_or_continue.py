"""Opening or continuing a case, its number, and linking contacts to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from hotline.cases import lifecycle
from hotline.cases.models import Case, CaseContact, CaseStatus, ContactKind


def _open(session, caller_id, line_id, **kw):
    kw.setdefault("channel", "call")
    return lifecycle.open_or_continue_case(session, caller_id=caller_id, line_id=line_id, **kw)


def test_case_numbers_count_up_per_local_day(session, make_caller, line_id):
    # 23:30 UTC on 28 Nov is 07:30 on 29 Nov in Shanghai: the number carries the local date.
    with time_machine.travel(datetime(2026, 11, 28, 23, 30, tzinfo=UTC), tick=False):
        first = _open(session, make_caller(), line_id)
        second = _open(session, None, line_id)
    with time_machine.travel(datetime(2026, 11, 29, 16, 30, tzinfo=UTC), tick=False):
        next_day = _open(session, None, line_id)  # 00:30 on 30 Nov local
    assert (first.number, second.number) == ("20261129-0001", "20261129-0002")
    assert next_day.number == "20261130-0001"


def test_a_new_contact_continues_the_callers_active_case(session, make_caller, make_staff, line_id):
    caller = make_caller()
    operator = make_staff()
    case = _open(session, caller, line_id, scenario=None)
    assert case.scenario == "other" and case.owner_id is None
    again = _open(session, caller, line_id, scenario="medical", operator_id=operator)
    assert again.id == case.id
    assert again.scenario == "medical", "a scenario fills in a case still under 'other'"
    assert again.owner_id == operator, "an operator takes a case nobody owns"
    third = _open(session, caller, line_id, scenario="travel")
    assert third.id == case.id and third.scenario == "medical", "a set scenario is kept"


def test_every_active_status_is_continued_and_no_other(session, line_id):
    from hotline.callers.models import Caller

    for n, status in enumerate(["in_progress", "waiting", "escalated", "resolved", "closed"]):
        row = Caller(phone_number=f"+86131234567{n:02d}")
        session.add(row)
        session.flush()
        caller = row.id
        case = _open(session, caller, line_id)
        if status in ("resolved", "closed"):
            lifecycle.resolve(session, case, outcome="answered", operator_id=None)
            if status == "closed":
                lifecycle.close(session, case, operator_id=None)
        else:
            lifecycle.change_status(
                session, case, status, operator_id=None, waiting_on="caller", reason="需要协调"
            )
        session.commit()
        again = _open(session, caller, line_id)
        if status in ("resolved", "closed"):
            assert again.id != case.id and again.status == CaseStatus.OPEN, status
        else:
            assert again.id == case.id, status


def test_the_latest_active_case_is_continued(session, make_caller, line_id):
    caller = make_caller()
    older = lifecycle.open_case(session, caller_id=caller, line_id=line_id, channel="call")
    newer = lifecycle.open_case(session, caller_id=caller, line_id=line_id, channel="sms")
    assert older.id != newer.id
    assert _open(session, caller, line_id).id == newer.id


def test_withheld_numbers_always_open_a_new_case(session, line_id):
    assert _open(session, None, line_id).id != _open(session, None, line_id).id


def test_unknown_scenarios_are_filed_under_other(session, line_id):
    assert _open(session, None, line_id, scenario="bogus").scenario == "other"
    assert _open(session, None, line_id, scenario="Medical").scenario == "medical"


def test_open_or_continue_does_not_commit(app, make_caller, line_id):
    from hotline.db import db

    caller = make_caller()
    with app.app_context():
        _open(db.session, caller, line_id)
        db.session.rollback()
        assert db.session.scalar(select(Case)) is None


def test_every_contact_kind_links_once(session, make_caller, make_staff, line_id, make_call):
    caller = make_caller()
    operator = make_staff()
    call_id, _ = make_call(caller)
    case = _open(session, caller, line_id)
    for kind in ContactKind:
        lifecycle.record_contact(session, case, kind=kind, operator_id=operator, note=kind.value)
    # The same call arriving twice (a retried webhook) is linked once.
    first = lifecycle.record_contact(session, case, kind="call", call_id=call_id)
    second = lifecycle.record_contact(session, case, kind="call", call_id=call_id)
    assert first.id == second.id
    kinds = session.scalars(select(CaseContact.kind).where(CaseContact.case_id == case.id)).all()
    assert sorted(k.value for k in kinds) == sorted([k.value for k in ContactKind] + ["call"])
    with pytest.raises(ValueError):
        lifecycle.record_contact(session, case, kind="fax")


def test_case_for_call_opens_links_and_starts_work(session, make_caller, make_staff, make_call):
    caller = make_caller()
    operator = make_staff()
    call_id, _sid = make_call(caller, scenario="affairs")
    from hotline.calls.models import Call

    call = session.get(Call, call_id)
    case = lifecycle.case_for_call(session, call, operator_id=operator)
    assert case.scenario == "affairs" and case.status == CaseStatus.IN_PROGRESS
    assert case.owner_id == operator
    again = lifecycle.case_for_call(session, call, operator_id=operator)
    assert again.id == case.id
    contacts = session.scalars(select(CaseContact).where(CaseContact.case_id == case.id)).all()
    assert [(c.kind, c.call_id) for c in contacts] == [(ContactKind.CALL, call_id)]


def test_case_for_a_voicemail_links_it_as_a_voicemail(session, make_caller, make_call):
    caller = make_caller()
    call_id, _sid = make_call(
        caller,
        outcome="voicemail",
        recording_url="https://api.twilio.com/x/Recordings/RE" + "a" * 32,
    )
    from hotline.calls.models import Call

    case = lifecycle.case_for_call(session, session.get(Call, call_id), operator_id=None)
    contact = session.scalar(select(CaseContact).where(CaseContact.case_id == case.id))
    assert contact.kind == ContactKind.VOICEMAIL and case.channel == "voicemail"
    assert case.status == CaseStatus.OPEN, "nobody took it yet"


def test_an_ended_call_that_carried_a_request_lands_on_a_case(app, twilio, make_caller, make_call):
    """Through Twilio's status callback: nobody opened a case, the call still gets one; calls
    without a request (short abandons, hang-ups in the menu) open nothing."""
    from hotline.db import db

    expected = {
        "voicemail": ContactKind.VOICEMAIL,
        "abandoned": ContactKind.CALL,
        "answered": ContactKind.CALL,
        "short_abandon": None,
        "hung_up_in_menu": None,
        None: None,
    }
    for n, (outcome, kind) in enumerate(expected.items()):
        caller = make_caller(phone_number=f"+86131234567{n:02d}")
        call_id, sid = make_call(caller, outcome=outcome, scenario="travel")
        params = twilio.call_params(sid, CallStatus="completed", CallDuration="40")
        assert twilio.post("/twilio/voice/status", params).status_code == 204
        assert twilio.post("/twilio/voice/status", params).status_code == 204  # a retry
        with app.app_context():
            contacts = db.session.scalars(
                select(CaseContact).where(CaseContact.call_id == call_id)
            ).all()
            assert [c.kind for c in contacts] == ([kind] if kind else []), outcome
            cases = db.session.scalars(select(Case).where(Case.caller_id == caller)).all()
            assert len(cases) == (1 if kind else 0), outcome
            if kind:
                assert cases[0].scenario == "travel"
