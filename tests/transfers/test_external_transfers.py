"""External transfers from the call panel: the exact REST requests the real twilio SDK sends
(hold, Participants.create, the hand-over), the participant's signed status callbacks (answer,
end, duration), the number policy (emergency short codes allowed here only) and the record on
the call."""

from __future__ import annotations

from sqlalchemy import select

from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.directory.models import Agency, AgencyKind
from hotline.operators.models import Presence
from hotline.queue.models import QueueStatus
from hotline.transfers.models import ExternalTransfer, TransferMode, TransferStatus
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import ACCOUNT_PATH, BASE_URL, entry_of, operator_of
from tests.operator_queue.test_queue_connect import LINE_NUMBER, _connected

CONFERENCE = "CF" + "c" * 32
PARTICIPANTS = f"https://api.twilio.com{ACCOUNT_PATH}/Conferences/{CONFERENCE}/Participants"
AGENCY_LEG = "CA" + "9" * 32


def _agency(app, *, number="+861055551234", kind=AgencyKind.COMMUNITY_OFFICE) -> int:
    with app.app_context():
        agency = Agency(name="和平里街道办", kind=kind, phone_number=number)
        db.session.add(agency)
        db.session.commit()
        return agency.id


def _transfer(app) -> ExternalTransfer:
    with app.app_context():
        transfer = db.session.scalar(select(ExternalTransfer).order_by(ExternalTransfer.id.desc()))
        db.session.expunge(transfer)
        return transfer


def _leg_status(twilio, transfer_id: int, status: str, *, duration: int | None = None):
    params = {
        "AccountSid": "AC" + "1" * 32,
        "CallSid": AGENCY_LEG,
        "CallStatus": status,
        "From": LINE_NUMBER,
        "To": "+861055551234",
        "Direction": "outbound-api",
    }
    if duration is not None:
        params["CallDuration"] = str(duration)
    response = twilio.post(f"/twilio/transfers/participant-status?transfer={transfer_id}", params)
    response.close()  # runs the work scheduled after the response, as a WSGI server does
    return response


def _answering_agency(http_client):
    http_client.responses.append(
        (
            r"POST .*/Participants\.json$",
            (201, {"call_sid": AGENCY_LEG, "conference_sid": CONFERENCE, "status": "queued"}),
        )
    )


def test_warm_transfer_holds_the_caller_adds_the_agency_and_hands_over(
    app, twilio, http_client, operator_client
):
    agency_id = _agency(app)
    client, operator_id, queued, operator_leg = _connected(
        app, twilio, http_client, operator_client
    )
    _answering_agency(http_client)
    response = client.post(
        f"/console/api/transfers/{queued.entry_id}/start",
        data={"choice": f"agency:{agency_id}", "mode": "warm"},
    )
    assert response.status_code == 200, response.get_json()
    hold, add = http_client.requests
    assert (hold.method, hold.url) == ("POST", f"{PARTICIPANTS}/{queued.sid}.json")
    assert hold.data == {
        "Hold": ["true"],
        "HoldUrl": [f"{BASE_URL}/twilio/queue/hold?lang={queued.language}"],
    }
    transfer = _transfer(app)
    assert (add.method, add.url) == ("POST", f"{PARTICIPANTS}.json")
    assert add.data == {
        "From": [LINE_NUMBER],
        "To": ["+861055551234"],
        "Timeout": ["30"],
        "StartConferenceOnEnter": ["true"],
        "EndConferenceOnExit": ["false"],
        "EarlyMedia": ["true"],
        "Beep": ["false"],
        "StatusCallback": [
            f"{BASE_URL}/twilio/transfers/participant-status?transfer={transfer.id}"
        ],
        "StatusCallbackEvent": ["answered", "completed"],
        "StatusCallbackMethod": ["POST"],
        "Label": [f"transfer-{transfer.id}"],
    }
    assert transfer.status == TransferStatus.RINGING and transfer.mode == TransferMode.WARM
    assert transfer.participant_call_sid == AGENCY_LEG and transfer.agency_id == agency_id
    assert transfer.operator_id == operator_id and transfer.kind == "community_office"
    assert entry_of(app, queued.entry_id).is_on_hold

    # Handing over before the agency answered is refused.
    refused = client.post(f"/console/api/transfers/{queued.entry_id}/hand-over")
    assert refused.status_code == 400 and refused.get_json()["code"] == "not_answered"

    assert _leg_status(twilio, transfer.id, "in-progress").status_code == 204
    assert _transfer(app).status == TransferStatus.CONSULTING
    http_client.requests.clear()
    assert client.post(f"/console/api/transfers/{queued.entry_id}/hand-over").get_json()["ok"]
    unhold, agency_keeps, keep, remove = http_client.requests
    assert (unhold.url, unhold.data) == (f"{PARTICIPANTS}/{queued.sid}.json", {"Hold": ["false"]})
    assert (agency_keeps.url, agency_keeps.data) == (
        f"{PARTICIPANTS}/{AGENCY_LEG}.json",
        {"EndConferenceOnExit": ["true"]},
    )
    assert (keep.url, keep.data) == (
        f"{PARTICIPANTS}/{operator_leg}.json",
        {"EndConferenceOnExit": ["false"]},
    )
    assert (remove.method, remove.url) == ("DELETE", f"{PARTICIPANTS}/{operator_leg}.json")
    assert entry_of(app, queued.entry_id).status == QueueStatus.COMPLETED
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    assert _transfer(app).status == TransferStatus.HANDED_OVER

    # The agency's leg ends: the transfer's length is Twilio's CallDuration.
    assert _leg_status(twilio, transfer.id, "completed", duration=95).status_code == 204
    done = _transfer(app)
    assert done.status == TransferStatus.ENDED and done.duration_seconds == 95
    assert done.end_status == "completed" and done.ended_at is not None
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "call", AuditEntry.action.like("transfer_%"))
            .order_by(AuditEntry.id)
        ).all()
    assert actions == [
        "transfer_started",
        "transfer_handed_over",
        "transfer_ended",
    ]


def test_cold_transfer_to_120_adds_the_short_code_and_the_operator_leaves_at_once(
    app, twilio, http_client, operator_client
):
    client, operator_id, queued, operator_leg = _connected(
        app, twilio, http_client, operator_client
    )
    _answering_agency(http_client)
    response = client.post(
        f"/console/api/transfers/{queued.entry_id}/start",
        data={"choice": "emergency:120", "mode": "cold"},
    )
    assert response.status_code == 200, response.get_json()
    add, keep, remove = http_client.requests
    assert add.data["To"] == ["120"] and add.data["EndConferenceOnExit"] == ["true"]
    assert (keep.url, keep.data) == (
        f"{PARTICIPANTS}/{operator_leg}.json",
        {"EndConferenceOnExit": ["false"]},
    )
    assert (remove.method, remove.url) == ("DELETE", f"{PARTICIPANTS}/{operator_leg}.json")
    transfer = _transfer(app)
    assert transfer.status == TransferStatus.HANDED_OVER and transfer.kind == "emergency"
    assert transfer.participant_call_sid == AGENCY_LEG and transfer.handed_over_at is not None
    assert transfer.target_name == "120 急救"
    assert entry_of(app, queued.entry_id).status == QueueStatus.COMPLETED
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP


def test_a_cold_transfer_nobody_answers_sends_the_caller_back_to_the_queue(
    app, twilio, http_client, operator_client
):
    agency_id = _agency(app)
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(
        f"/console/api/transfers/{queued.entry_id}/start",
        data={"choice": f"agency:{agency_id}", "mode": "cold"},
    )
    transfer = _transfer(app)
    http_client.requests.clear()
    assert _leg_status(twilio, transfer.id, "no-answer", duration=0).status_code == 204
    assert _transfer(app).status == TransferStatus.FAILED
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.WAITING and entry.operator_id is None
    [redirect] = http_client.requests
    assert redirect.url == f"https://api.twilio.com{ACCOUNT_PATH}/Calls/{queued.sid}.json"
    assert redirect.data["Url"] == [
        f"{BASE_URL}/twilio/queue/requeue?entry={queued.entry_id}&lang={queued.language}"
    ]


def test_cancel_hangs_up_the_agency_and_takes_the_caller_off_hold(
    app, twilio, http_client, operator_client
):
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(f"/console/api/transfers/{queued.entry_id}/start", data={"number": "010 5555 1234"})
    transfer = _transfer(app)
    assert transfer.target_number == "+861055551234" and transfer.kind == "number"
    http_client.requests.clear()
    assert client.post(f"/console/api/transfers/{queued.entry_id}/cancel").get_json()["ok"]
    hang_up, unhold = http_client.requests
    assert (hang_up.url, hang_up.data) == (
        f"https://api.twilio.com{ACCOUNT_PATH}/Calls/{AGENCY_LEG}.json",
        {"Status": ["completed"]},
    )
    assert unhold.data == {"Hold": ["false"]}
    assert _transfer(app).status == TransferStatus.CANCELLED
    assert entry_of(app, queued.entry_id).status == QueueStatus.CONNECTED
    # The hung-up leg's callback keeps it cancelled (and notes when and how it ended).
    _leg_status(twilio, transfer.id, "completed", duration=3)
    assert _transfer(app).status == TransferStatus.CANCELLED


def test_the_number_policy_refuses_foreign_premium_and_non_emergency_short_codes(
    app, twilio, http_client, operator_client
):
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    for number in ("+12025550123", "12345", "+8616812345678", "10086"):
        response = client.post(
            f"/console/api/transfers/{queued.entry_id}/start", data={"number": number}
        )
        assert response.status_code == 400, number
        assert response.get_json()["code"] in ("number_refused", "bad_number"), number
    assert http_client.requests == []
    with app.app_context():
        assert db.session.scalar(select(ExternalTransfer)) is None
    assert not entry_of(app, queued.entry_id).is_on_hold


def test_emergency_short_codes_pass_only_as_transfer_destinations(app):
    from hotline.numberpolicy import NumberPolicy

    policy = NumberPolicy()
    assert policy.transfer_refusal("120") is None
    assert policy.refusal("120") is not None, "120 must never be called back or texted"
    assert policy.transfer_refusal("12345") is not None


def test_another_operator_cannot_transfer_my_caller(
    app, twilio, http_client, operator_client, make_operator
):
    from tests.operator_queue.queue_support import login

    _client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    make_operator("zhao", phone_number="+8613123456782")
    other = app.test_client()
    login(other, "zhao")
    response = other.post(
        f"/console/api/transfers/{queued.entry_id}/start", data={"choice": "emergency:120"}
    )
    assert response.status_code == 400 and response.get_json()["code"] == "not_yours"
    assert http_client.requests == []


def test_participant_status_callbacks_are_signature_checked(app, client):
    response = client.post(
        "/twilio/transfers/participant-status?transfer=1",
        data={"CallSid": AGENCY_LEG, "CallStatus": "completed"},
    )
    assert response.status_code == 403


def test_the_panel_shows_the_destinations_and_what_to_read_out(
    app, twilio, http_client, operator_client
):
    _agency(app)
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    state = client.get("/console/api/transfers/current").get_json()
    assert state["entry_id"] == queued.entry_id and state["connected"]
    keys = [d["key"] for d in state["destinations"]]
    assert keys[:3] == ["emergency:120", "emergency:110", "emergency:119"]
    assert any(k.startswith("agency:") for k in keys)
    assert state["caller"]["number"] == "+8613123456761"


def test_a_transfer_twilio_refuses_is_recorded_as_failed_and_the_caller_comes_off_hold(
    app, twilio, http_client, operator_client
):
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    http_client.responses.append(
        (
            r"POST .*/Participants\.json$",
            (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        )
    )
    response = client.post(
        f"/console/api/transfers/{queued.entry_id}/start", data={"choice": "emergency:110"}
    )
    assert response.status_code == 502 and response.get_json()["code"] == "telephony"
    hold, add, unhold = http_client.requests
    assert hold.data["Hold"] == ["true"] and unhold.data == {"Hold": ["false"]}
    failed = _transfer(app)
    assert failed.status == TransferStatus.FAILED and failed.end_status == "failed"
    assert not entry_of(app, queued.entry_id).is_on_hold
    assert entry_of(app, queued.entry_id).status == QueueStatus.CONNECTED


def test_the_case_screen_shows_the_transfer_with_its_call(
    app, twilio, http_client, operator_client
):
    agency_id = _agency(app)
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(
        f"/console/api/transfers/{queued.entry_id}/start",
        data={"choice": f"agency:{agency_id}", "mode": "cold"},
    )
    transfer = _transfer(app)
    _leg_status(twilio, transfer.id, "in-progress")
    _leg_status(twilio, transfer.id, "completed", duration=42)
    opened = client.post(f"/console/cases/for-call/{queued.sid}")
    assert opened.status_code == 303, opened.get_data(as_text=True)
    page = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert "<strong>和平里街道办</strong>" in page
    assert "直接转出" in page and "已结束" in page and "42 s" in page
    assert "林坐席" in page


def test_no_colleague_transfer_while_an_agency_is_being_brought_in(
    app, twilio, http_client, operator_client, make_operator
):
    colleague = make_operator("zhao", phone_number="+8613123456782")
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(f"/console/api/transfers/{queued.entry_id}/start", data={"choice": "emergency:120"})
    response = client.post(f"/console/api/queue/{queued.entry_id}/transfer", data={"to": colleague})
    assert response.status_code == 409 and response.get_json()["code"] == "transfer_busy"


def test_erasing_a_caller_removes_a_typed_transfer_number_and_keeps_agencies(
    app, twilio, http_client, operator_client
):
    from hotline.callers.models import Caller
    from hotline.cases import privacy
    from hotline.timeutil import utcnow

    agency_id = _agency(app)
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    start = f"/console/api/transfers/{queued.entry_id}/start"
    client.post(start, data={"number": "+8613912345678"})
    assert client.post(f"/console/api/transfers/{queued.entry_id}/cancel").get_json()["ok"]
    http_client.responses.insert(  # the second agency leg has its own CallSid
        0,
        (
            r"POST .*/Participants\.json$",
            (201, {"call_sid": "CA" + "8" * 32, "conference_sid": CONFERENCE, "status": "queued"}),
        ),
    )
    client.post(start, data={"choice": f"agency:{agency_id}"})
    with app.app_context():
        caller = db.session.scalar(select(Caller).where(Caller.phone_number == "+8613123456761"))
        privacy.anonymise_caller(
            db.session, caller.id, operator_id=None, actor="system:test", now=utcnow()
        )
        db.session.commit()
        typed, agency = db.session.scalars(
            select(ExternalTransfer).order_by(ExternalTransfer.id)
        ).all()
        assert (typed.target_number, typed.target_name) == ("", "")
        assert agency.target_number == "+861055551234" and agency.target_name == "和平里街道办"


def test_a_malformed_participant_status_is_a_400_and_changes_nothing(
    app, twilio, http_client, operator_client
):
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(f"/console/api/transfers/{queued.entry_id}/start", data={"choice": "emergency:120"})
    transfer = _transfer(app)
    no_sid = twilio.post(
        f"/twilio/transfers/participant-status?transfer={transfer.id}",
        {"AccountSid": "AC" + "1" * 32, "CallStatus": "completed", "CallDuration": "5"},
    )
    assert no_sid.status_code == 400
    no_transfer = twilio.post(
        "/twilio/transfers/participant-status?transfer=x",
        {"AccountSid": "AC" + "1" * 32, "CallSid": AGENCY_LEG, "CallStatus": "completed"},
    )
    assert no_transfer.status_code == 400
    # A leg that is not this transfer's changes nothing either.
    other = twilio.post(
        f"/twilio/transfers/participant-status?transfer={transfer.id}",
        {"AccountSid": "AC" + "1" * 32, "CallSid": "CA" + "3" * 32, "CallStatus": "completed"},
    )
    assert other.status_code == 204
    assert _transfer(app).status == TransferStatus.RINGING


def test_if_the_operator_cannot_leave_the_call_stays_theirs(
    app, twilio, http_client, operator_client
):
    client, operator_id, queued, operator_leg = _connected(
        app, twilio, http_client, operator_client
    )
    _answering_agency(http_client)
    http_client.responses.insert(
        0,
        (
            rf"DELETE .*/Participants/{operator_leg}\.json$",
            (500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
        ),
    )
    response = client.post(
        f"/console/api/transfers/{queued.entry_id}/start",
        data={"choice": "emergency:120", "mode": "cold"},
    )
    assert response.status_code == 502
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.CONNECTED and entry.ended_at is None
    assert operator_of(app, operator_id).presence == Presence.BUSY
    transfer = _transfer(app)
    assert transfer.status == TransferStatus.RINGING and transfer.handed_over_at is None


def test_a_warm_transfer_nobody_answers_brings_the_caller_back_off_hold(
    app, twilio, http_client, operator_client
):
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(f"/console/api/transfers/{queued.entry_id}/start", data={"choice": "emergency:119"})
    assert entry_of(app, queued.entry_id).is_on_hold
    transfer = _transfer(app)
    http_client.requests.clear()
    assert _leg_status(twilio, transfer.id, "busy", duration=0).status_code == 204
    assert _transfer(app).status == TransferStatus.FAILED
    [unhold] = http_client.requests
    assert (unhold.method, unhold.url, unhold.data) == (
        "POST",
        f"{PARTICIPANTS}/{queued.sid}.json",
        {"Hold": ["false"]},
    )
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.CONNECTED and not entry.is_on_hold
    state = client.get("/console/api/transfers/current").get_json()
    assert state["transfer"]["status"] == "failed" and not state["on_hold"]
