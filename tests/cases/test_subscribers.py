"""The cases feature's call-ended subscriber (ready for when the calls records publish
CallEnded; until then the same function runs from the call-ended hook)."""

from __future__ import annotations

from sqlalchemy import select

from hotline.calls.events import CallEnded
from hotline.calls.models import CallDirection, CallOutcome
from hotline.cases.models import Case, CaseContact, ContactKind
from hotline.cases.subscribers import on_call_ended
from hotline.db import db
from tests import factories


def test_an_ended_voicemail_call_lands_on_its_callers_case_once(app):
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        caller = factories.make_caller(session)
        call = factories.make_call(
            session, line_id=line.id, caller_id=caller.id, outcome=CallOutcome.VOICEMAIL
        )
        on_call_ended(session, CallEnded(call.id))
        on_call_ended(session, CallEnded(call.id))  # a repeated status callback
        (contact,) = session.scalars(select(CaseContact).where(CaseContact.call_id == call.id))
        assert contact.kind == ContactKind.VOICEMAIL
        assert session.get(Case, contact.case_id).caller_id == caller.id
        session.rollback()


def test_an_outbound_call_makes_no_case(app):
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        caller = factories.make_caller(session)
        call = factories.make_call(
            session,
            line_id=line.id,
            caller_id=caller.id,
            direction=CallDirection.OUTBOUND.value,
            outcome=CallOutcome.ANSWERED,
        )
        on_call_ended(session, CallEnded(call.id))
        assert session.scalar(select(CaseContact).where(CaseContact.call_id == call.id)) is None
        session.rollback()
