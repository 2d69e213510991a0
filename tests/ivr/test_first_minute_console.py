"""What operators see of the first minute (issue 17, items 5 and 6): a family proxy in the
queue is shown with the elder it concerns; a blocked caller's call is listed (the block's reason
for supervisors only), and its voicemail owes no automatic callback."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bench.first_minute import Journey, run
from hotline.callbacks.models import CallbackRequest
from hotline.calls.models import Call, CallOutcome
from hotline.cases.models import CaseContact, ContactKind
from hotline.db import db
from hotline.operators.models import Role
from tests import factories

ELDER = {"zh-CN": "王阿姨", "yue-HK": "陈伯", "en-US": "Mrs Wang"}


def _sign_in(app, client, role: Role = Role.OPERATOR, console_language: str = "zh") -> None:
    with app.app_context():
        operator = factories.make_operator(db.session, role=role, console_language=console_language)
        db.session.commit()
        user_id = f"{operator.id}:{operator.session_version}"
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True


@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
def test_the_queue_shows_a_family_proxy_with_their_elder(app, twilio, client, language):
    run(app, twilio.post, Journey("family", language, ("0",), "family"))
    run(app, twilio.post, Journey("other", "zh-CN", ("0",), "new"))
    _sign_in(app, client, console_language=language[:2])
    family, other = client.get("/console/api/queue").get_json()["waiting"]
    elder = ELDER[language]
    assert family["family_of"] == (
        f"家属代办 · {elder}" if language == "zh-CN" else f"family of {elder}"
    )
    assert other["family_of"] == ""


def test_the_console_page_writes_the_family_label(app, client):
    _sign_in(app, client)
    page = client.get("/console/queue").get_data(as_text=True)
    assert 'id="current-family"' in page
    src = re.search(r'src="([^"]*queue\.js[^"]*)"', page).group(1)
    with client.get(src) as response:
        script = response.get_data(as_text=True)
    assert "entry.family_of" in script and "current.family_of" in script


def test_a_blocked_callers_voicemail_owes_no_automatic_callback(app, twilio):
    outcome = run(app, twilio.post, Journey("blocked", "zh-CN", (), "blocked"))
    assert outcome.end == "voicemail"
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == outcome.sid))
        assert call.outcome == CallOutcome.VOICEMAIL
        assert db.session.scalars(select(CallbackRequest)).all() == []


def test_an_ordinary_voicemail_still_owes_a_callback(app, twilio):
    """The decision is about blocks only: a closed-hours voicemail is called back as before."""
    with app.app_context():
        line = factories.main_line(db.session)
        line.is_open_every_day = False
        line.opens_at = line.closes_at
        db.session.commit()
    outcome = run(app, twilio.post, Journey("closed", "zh-CN", (), "new"))
    assert outcome.end == "voicemail"
    with app.app_context():
        assert len(db.session.scalars(select(CallbackRequest)).all()) == 1


def _finish(twilio, sid: str, number: str) -> None:
    """Twilio's recording and final status callbacks for the voicemail call."""
    params = twilio.call_params(sid, from_=number)
    twilio.post(
        "/twilio/voice/recorded",
        {**params, "RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingDuration": "14"},
    )
    twilio.post("/twilio/voice/status", {**params, "CallStatus": "completed", "CallDuration": "30"})


@pytest.mark.parametrize(("role", "sees_reason"), [(Role.OPERATOR, False), (Role.SUPERVISOR, True)])
def test_operators_see_that_a_blocked_caller_called(app, twilio, client, role, sees_reason):
    outcome = run(app, twilio.post, Journey("blocked", "zh-CN", (), "blocked"))
    with app.app_context():
        number = db.session.scalar(select(Call).where(Call.call_sid == outcome.sid)).from_number
    _finish(twilio, outcome.sid, number)
    _sign_in(app, client, role)
    page = client.get("/console/callbacks").get_data(as_text=True)
    assert "受限制的来电者来过电话 (1)" in page
    assert number in page and "留言 14 秒(在工单里)" in page
    assert ("abusive calls" in page) is sees_reason
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == outcome.sid))
        contact = db.session.scalar(select(CaseContact).where(CaseContact.call_id == call.id))
        assert contact is not None and contact.kind == ContactKind.VOICEMAIL, "on their case"


def test_a_call_after_the_block_lapsed_is_not_listed(app, twilio, client):
    run(app, twilio.post, Journey("family", "zh-CN", ("0",), "family"))
    _sign_in(app, client, Role.SUPERVISOR)
    page = client.get("/console/callbacks").get_data(as_text=True)
    assert "受限制的来电者来过电话 (0)" in page
