"""In real headless Chromium, CSRF on: an operator brings a community office into the call
from the call panel (warm: talk first, then hand over), and a supervisor plays a recorded call
on the case screen (the audio comes through the app, the playback is audited)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.cases import lifecycle
from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.devgateway.util import tone_wav
from hotline.directory.models import Agency, AgencyKind
from hotline.operators.models import Role
from hotline.transfers.models import CallRecording, ExternalTransfer, TransferStatus
from tests import factories
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import ACCOUNT_PATH, PASSWORD, entry_of, reach_queue
from tests.transfers.media import serve_media

pytestmark = pytest.mark.browser

CONFERENCE = "CF" + "c" * 32
AGENCY_LEG = "CA" + "9" * 32
OFFICE = "+861055551234"


def _sign_in(page, base_url: str, username: str, path: str) -> None:
    page.goto(base_url + path)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")


def _on_a_call(page, base_url: str, app, twilio, http_client, operator_id: int, from_: str):
    """The operator signs in, takes the caller from `from_` in the browser and answers; the
    agency Twilio will ring answers as AGENCY_LEG. Returns the queued call."""
    http_client.responses.append(
        (
            r"POST .*/Participants\.json$",
            (201, {"call_sid": AGENCY_LEG, "conference_sid": CONFERENCE, "status": "queued"}),
        )
    )
    _sign_in(page, base_url, "lin", "/console/queue")
    page.wait_for_function("() => window.hotlineQueue && window.hotlineQueue.polls > 0")
    queued = reach_queue(twilio, app, from_=from_)
    page.locator("button.take-one").first.click()
    page.locator("#current-call").wait_for(state="visible", timeout=3000)
    leg = entry_of(app, queued.entry_id).operator_call_sid
    twilio.post(
        f"/twilio/queue/operator?entry={queued.entry_id}&op={operator_id}",
        twilio.call_params(
            leg, from_="+861012345678", to="+8613123456781", CallStatus="in-progress"
        ),
    )
    # The conference status callback tells the app the ConferenceSid.
    twilio.post(
        f"/twilio/queue/conference-status?entry={queued.entry_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "ConferenceSid": CONFERENCE,
            "FriendlyName": "x",
            "StatusCallbackEvent": "participant-join",
            "CallSid": queued.sid,
            "SequenceNumber": "1",
        },
    )
    return queued


def test_an_operator_transfers_warm_to_a_community_office_from_the_call_panel(
    csrf_on, live_server, page, app, twilio, http_client, make_operator, make_caller
):
    operator_id = make_operator("lin", display_name="林坐席")
    make_caller(phone_number="+8613123456742", display_name="王阿姨", district="和平里街道")
    with app.app_context():
        db.session.add(
            Agency(name="和平里社区居委会", kind=AgencyKind.COMMUNITY_OFFICE, phone_number=OFFICE)
        )
        db.session.commit()
    _on_a_call(page, live_server.url, app, twilio, http_client, operator_id, "+8613123456742")
    panel = page.locator("#external-transfer")
    panel.wait_for(state="visible", timeout=5000)
    # 120/110/119 one click away, and what to read out to them.
    assert page.locator("#emergency-buttons button").all_inner_texts() == [
        "120 急救",
        "110 报警",
        "119 火警",
    ]
    assert page.locator("#readout-district").inner_text() == "和平里街道"
    assert page.locator("#readout-number").inner_text() == "+8613123456742"

    with app.app_context():
        agency_id = db.session.scalar(select(Agency.id))
    page.select_option("#external-choice", f"agency:{agency_id}")
    http_client.requests.clear()
    page.click("#external-start")
    page.wait_for_function(
        "() => document.getElementById('external-state').textContent.includes('正在呼叫')",
        timeout=5000,
    )
    hold, add = http_client.requests
    assert hold.data["Hold"] == ["true"]
    assert add.url.endswith(f"{ACCOUNT_PATH}/Conferences/{CONFERENCE}/Participants.json")
    assert add.data["To"] == [OFFICE]
    with app.app_context():
        transfer_id = db.session.scalar(select(ExternalTransfer.id))
    twilio.post(
        f"/twilio/transfers/participant-status?transfer={transfer_id}",
        twilio.call_params(AGENCY_LEG, from_="+861012345678", to=OFFICE, CallStatus="in-progress"),
    )
    page.locator("#external-hand-over").wait_for(state="visible", timeout=5000)
    assert page.locator("#external-state").inner_text().startswith("和平里社区居委会 已接听")
    page.click("#external-hand-over")
    page.locator("#wrap-up").wait_for(state="visible", timeout=5000)
    with app.app_context():
        assert db.session.get(ExternalTransfer, transfer_id).status == TransferStatus.HANDED_OVER


def test_120_is_one_click_away_on_the_call_panel(
    csrf_on, live_server, page, app, twilio, http_client, make_operator
):
    operator_id = make_operator("lin", display_name="林坐席")
    _on_a_call(page, live_server.url, app, twilio, http_client, operator_id, "+8613123456744")
    button = page.locator('#emergency-buttons button[data-choice="emergency:120"]')
    button.wait_for(state="visible", timeout=5000)
    http_client.requests.clear()
    button.click()
    page.wait_for_function(
        "() => document.getElementById('external-state').textContent.includes('120 急救')",
        timeout=5000,
    )
    hold, add = http_client.requests
    assert hold.data["Hold"] == ["true"], "warm: the caller waits on hold while 120 is briefed"
    assert add.data["To"] == ["120"]
    assert button.is_disabled(), "one transfer at a time"


def test_a_supervisor_plays_a_recorded_call_on_the_case_screen(
    live_server, page, app, make_operator
):
    make_operator("chen", role=Role.SUPERVISOR, phone_number="+8613123456783")
    handler = make_operator("lin", phone_number="+8613123456781")
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        caller = factories.make_caller(session, phone_number="+8613123456743")
        call = factories.make_call(session, line_id=line.id, caller_id=caller.id)
        case = lifecycle.case_for_call(session, call, operator_id=handler)
        session.add(
            CallRecording(
                recording_sid="RE" + "7" * 32,
                call_id=call.id,
                media_url=f"https://api.twilio.com{ACCOUNT_PATH}/Recordings/RE{'7' * 32}",
                duration_seconds=2,
                channels=2,
            )
        )
        session.commit()
        number = case.number
    adapter = serve_media(app, tone_wav(2))

    _sign_in(page, live_server.url, "chen", f"/console/cases/{number}")
    audio = page.locator("audio[data-recording]")
    audio.wait_for(timeout=5000)
    assert "api.twilio.com" not in page.content()
    page.evaluate("document.querySelector('audio[data-recording]').play().catch(() => {})")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio[data-recording]');"
        " return a.readyState >= 2 && a.duration > 1; }",
        timeout=5000,
    )
    assert adapter.requests and adapter.requests[0].url.endswith(".wav?RequestedChannels=2")
    with app.app_context():
        played = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recording_played")
        ).all()
    assert len(played) == 1 and played[0].after["what"] == "conversation"
