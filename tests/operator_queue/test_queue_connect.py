"""An operator takes a caller: the REST requests the real twilio SDK sends (checked field by
field), the conference TwiML on both legs, hold, transfer, hang-up, wrap-up, and what happens
when the operator's phone does not answer."""

from __future__ import annotations

from sqlalchemy import select

from hotline.calls.models import CallOutcome
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Presence
from hotline.queue.models import OperatorTalk, QueueEntry, QueueStatus, TalkEnd

from .queue_support import *  # noqa: F403
from .queue_support import (
    ACCOUNT_PATH,
    BASE_URL,
    QUEUE_SID,
    call_of,
    call_status,
    entry_of,
    login,
    operator_of,
    path_of,
    reach_queue,
    spoken,
    xml,
)

OPERATOR_PHONE = "+8613123456781"
LINE_NUMBER = "+861012345678"
API_SECRET = "s" * 32  # HMAC keys shorter than 32 bytes warn (and warnings fail tests)


def _take(client, entry_id: int | None = None, via: str = "phone"):
    path = (
        "/console/api/queue/take-next"
        if entry_id is None
        else f"/console/api/queue/{entry_id}/take"
    )
    return client.post(path, data={"via": via})


def _operator_answers(twilio, entry_id: int, operator_id: int, call_sid: str):
    """Twilio fetches the operator leg's TwiML when they pick up."""
    return twilio.post(
        f"/twilio/queue/operator?entry={entry_id}&op={operator_id}",
        twilio.call_params(
            call_sid,
            from_=LINE_NUMBER,
            to=OPERATOR_PHONE,
            CallStatus="in-progress",
            Direction="outbound-api",
        ),
    )


def _operator_leg_status(twilio, entry_id: int, operator_id: int, call_sid: str, status: str):
    response = twilio.post(
        f"/twilio/queue/operator-status?entry={entry_id}&op={operator_id}",
        twilio.call_params(
            call_sid,
            from_=LINE_NUMBER,
            to=OPERATOR_PHONE,
            CallStatus=status,
            Direction="outbound-api",
            SequenceNumber="3",
        ),
    )
    response.close()  # runs the work scheduled after the response, as a WSGI server does
    return response


def _connected(app, twilio, http_client, operator_client):
    """A caller in the queue, taken by the signed-in operator who answered their phone."""
    client, operator_id = operator_client
    queued = reach_queue(twilio, app, from_="+8613123456761")
    assert _take(client).status_code == 200
    operator_call_sid = entry_of(app, queued.entry_id).operator_call_sid
    _operator_answers(twilio, queued.entry_id, operator_id, operator_call_sid)
    twilio.post(
        f"/twilio/queue/conference-status?entry={queued.entry_id}",
        {
            "AccountSid": "AC" + "1" * 32,
            "ConferenceSid": "CF" + "c" * 32,
            "FriendlyName": "x",
            "StatusCallbackEvent": "participant-join",
            "CallSid": queued.sid,
            "SequenceNumber": "1",
        },
    )
    http_client.requests.clear()
    return client, operator_id, queued, operator_call_sid


def test_take_next_rings_the_operator_then_dequeues_exactly_that_caller(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    queued = reach_queue(twilio, app, from_="+8613123456762")
    response = _take(client)
    assert response.status_code == 200, response.get_json()
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.CONNECTING and entry.operator_id == operator_id

    ring, dequeue = http_client.requests
    assert ring.method == "POST"
    assert ring.url == f"https://api.twilio.com{ACCOUNT_PATH}/Calls.json"
    assert ring.data == {
        "To": [OPERATOR_PHONE],
        "From": [LINE_NUMBER],
        "Url": [f"{BASE_URL}/twilio/queue/operator?entry={entry.id}&op={operator_id}"],
        "StatusCallback": [
            f"{BASE_URL}/twilio/queue/operator-status?entry={entry.id}&op={operator_id}"
        ],
        "StatusCallbackEvent": ["completed"],  # only the end of the leg is acted on
        "StatusCallbackMethod": ["POST"],
        "Timeout": ["20"],
    }
    assert dequeue.method == "POST"
    assert (
        dequeue.url
        == f"https://api.twilio.com{ACCOUNT_PATH}/Queues/{QUEUE_SID}/Members/{queued.sid}.json"
    )
    assert dequeue.url.count("Front") == 0
    assert dequeue.data == {
        "Url": [f"{BASE_URL}/twilio/queue/join?entry={entry.id}&lang=zh-CN"],
        "Method": ["POST"],
    }
    assert operator_of(app, operator_id).presence == Presence.BUSY


def test_dequeued_caller_waits_in_the_conference_without_music(
    app, twilio, http_client, operator_client
):
    client, _operator_id = operator_client
    queued = reach_queue(twilio, app)
    _take(client)
    join = xml(
        twilio.post(f"/twilio/queue/join?entry={queued.entry_id}&lang=zh-CN", queued.in_progress())
    )
    dial = join.find("Dial")
    conference = dial.find("Conference")
    entry = entry_of(app, queued.entry_id)
    assert conference.text == entry.conference_name
    assert conference.get("startConferenceOnEnter") == "false"
    assert conference.get("endConferenceOnExit") == "true"
    assert conference.get("beep") == "false"
    assert conference.get("statusCallbackEvent") == "join hold"  # the events conference_event uses
    assert (
        conference.get("statusCallback")
        == f"{BASE_URL}/twilio/queue/conference-status?entry={entry.id}"
    )
    assert dial.get("action") == f"{BASE_URL}/twilio/queue/after-call?entry={entry.id}&lang=zh-CN"
    wait = xml(twilio.post(path_of(conference.get("waitUrl")), {"AccountSid": "AC" + "1" * 32}))
    assert "正在为您接通工作人员" in spoken(wait)
    assert not list(wait.iter("Play"))


def test_operator_picks_up_hears_who_calls_and_the_caller_is_answered(
    app, twilio, http_client, operator_client, make_caller
):
    client, operator_id = operator_client
    make_caller(phone_number="+8613123456763", display_name="王阿姨", is_older_caller=True)
    queued = reach_queue(twilio, app, from_="+8613123456763")
    _take(client)
    root = xml(_operator_answers(twilio, queued.entry_id, operator_id, "CA" + "9" * 32))
    assert "来电:王阿姨" in spoken(root)
    conference = root.find("Dial/Conference")
    assert conference.get("startConferenceOnEnter") == "true"
    assert conference.get("endConferenceOnExit") == "true"
    assert conference.text == entry_of(app, queued.entry_id).conference_name
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.CONNECTED
    call = call_of(app, queued.sid)
    assert call.answered_at is not None and call.answered_at >= call.queued_at
    assert call.outcome == CallOutcome.ANSWERED


def test_hold_and_resume_update_the_callers_participant(app, twilio, http_client, operator_client):
    client, _op, queued, _leg = _connected(app, twilio, http_client, operator_client)
    entry = entry_of(app, queued.entry_id)
    assert client.post(f"/console/api/queue/{entry.id}/hold").get_json()["ok"]
    assert client.post(f"/console/api/queue/{entry.id}/resume").get_json()["ok"]
    hold, resume = http_client.requests
    participant = f"https://api.twilio.com{ACCOUNT_PATH}/Conferences/{'CF' + 'c' * 32}/Participants/{queued.sid}.json"
    assert (hold.method, hold.url) == ("POST", participant)
    assert hold.data == {"Hold": ["true"], "HoldUrl": [f"{BASE_URL}/twilio/queue/hold?lang=zh-CN"]}
    assert (resume.method, resume.url, resume.data) == ("POST", participant, {"Hold": ["false"]})
    held = xml(twilio.post("/twilio/queue/hold?lang=zh-CN", {"AccountSid": "AC" + "1" * 32}))
    assert "马上回来" in spoken(held) and not list(held.iter("Play"))
    url = f"{BASE_URL}/twilio/queue/hold?lang=zh-CN"
    fetched = client.get(url, headers={"X-Twilio-Signature": twilio.sign(url, {})})
    assert "马上回来" in spoken(xml(fetched)), "Twilio's default HoldMethod is GET"


def test_hang_up_ends_the_call_and_the_operator_wraps_up(app, twilio, http_client, operator_client):
    client, operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    assert client.post(f"/console/api/queue/{queued.entry_id}/hangup").get_json()["ok"]
    [hangup] = http_client.requests
    assert hangup.url == f"https://api.twilio.com{ACCOUNT_PATH}/Calls/{queued.sid}.json"
    assert hangup.data == {"Status": ["completed"]}
    assert entry_of(app, queued.entry_id).status == QueueStatus.COMPLETED
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    state = client.get("/console/api/queue").get_json()
    assert state["wrap_up"] is not None and state["current"] is None
    assert client.post("/console/api/wrap-up/done").get_json()["ok"]
    assert operator_of(app, operator_id).presence == Presence.AVAILABLE


def test_operator_hanging_up_their_phone_sends_the_caller_a_goodbye(
    app, twilio, http_client, operator_client
):
    _client, operator_id, queued, leg = _connected(app, twilio, http_client, operator_client)
    done = xml(
        twilio.post(
            f"/twilio/queue/operator-done?entry={queued.entry_id}&op={operator_id}",
            twilio.call_params(leg, CallStatus="in-progress", DialCallStatus="completed"),
        )
    )
    assert done.find("Hangup") is not None
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    goodbye = xml(
        twilio.post(
            f"/twilio/queue/after-call?entry={queued.entry_id}&lang=zh-CN",
            queued.in_progress(DialCallStatus="completed"),
        )
    )
    assert "感谢您的来电" in spoken(goodbye) and goodbye.find("Hangup") is not None
    assert entry_of(app, queued.entry_id).status == QueueStatus.COMPLETED
    assert http_client.requests == [], "no REST call was needed"


def test_caller_hanging_up_during_the_talk_completes_it(app, twilio, http_client, operator_client):
    _client, operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    call_status(twilio, queued, "completed")
    assert entry_of(app, queued.entry_id).status == QueueStatus.COMPLETED
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    assert call_of(app, queued.sid).outcome == CallOutcome.ANSWERED


def test_operator_phone_not_answering_puts_the_caller_back_in_their_place(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    queued = reach_queue(twilio, app)
    before = entry_of(app, queued.entry_id)
    _take(client)
    leg = "CA" + "0" * 31 + "1"
    http_client.requests.clear()
    _operator_leg_status(twilio, queued.entry_id, operator_id, leg, "no-answer")
    entry = entry_of(app, queued.entry_id)
    assert entry.status == QueueStatus.WAITING and entry.operator_id is None
    assert entry.arrived_at == before.arrived_at and entry.requeue_count == 1
    assert operator_of(app, operator_id).presence == Presence.AWAY
    [redirect] = http_client.requests
    assert redirect.url == f"https://api.twilio.com{ACCOUNT_PATH}/Calls/{queued.sid}.json"
    assert redirect.data == {
        "Url": [f"{BASE_URL}/twilio/queue/requeue?entry={entry.id}&lang=zh-CN"],
        "Method": ["POST"],
    }
    back = xml(
        twilio.post(f"/twilio/queue/requeue?entry={entry.id}&lang=zh-CN", queued.in_progress())
    )
    assert "您的位置不变" in spoken(back)
    assert back.find("Enqueue").text == "line-main"


def test_caller_who_hangs_up_while_the_operator_phone_rings_is_gone_for_the_operator(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    queued = reach_queue(twilio, app)
    _take(client)
    call_status(twilio, queued, "completed")
    assert entry_of(app, queued.entry_id).status == QueueStatus.ABANDONED
    root = xml(_operator_answers(twilio, queued.entry_id, operator_id, "CA" + "0" * 31 + "1"))
    assert "来电者已经挂断" in spoken(root) and root.find("Dial") is None
    assert operator_of(app, operator_id).presence == Presence.AVAILABLE


def test_dequeue_of_a_caller_who_just_left_tells_the_operator(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    queued = reach_queue(twilio, app)
    http_client.responses.append(
        (
            r"/Members/",
            (404, {"code": 20404, "message": "not found", "more_info": "", "status": 404}),
        )
    )
    response = _take(client)
    assert response.status_code == 400
    assert response.get_json()["code"] == "gone"
    ring, _dequeue, cancel = http_client.requests
    assert cancel.url.endswith("/Calls/CA" + "0" * 31 + "1.json") and cancel.data == {
        "Status": ["completed"]
    }
    assert entry_of(app, queued.entry_id).status == QueueStatus.WAITING
    assert operator_of(app, operator_id).presence == Presence.AVAILABLE


def test_warm_transfer_rings_a_colleague_and_hands_over(
    app, twilio, http_client, operator_client, make_operator
):
    colleague = make_operator("zhao", display_name="赵坐席", phone_number="+8613123456782")
    client, operator_id, queued, leg = _connected(app, twilio, http_client, operator_client)
    response = client.post(f"/console/api/queue/{queued.entry_id}/transfer", data={"to": colleague})
    assert response.get_json()["ok"], response.get_json()
    [ring] = http_client.requests
    assert ring.data["To"] == ["+8613123456782"]
    assert ring.data["Url"] == [
        f"{BASE_URL}/twilio/queue/operator?entry={queued.entry_id}&op={colleague}"
    ]
    assert operator_of(app, colleague).presence == Presence.BUSY
    colleague_leg = "CA" + "7" * 32
    with app.app_context():
        db.session.get(QueueEntry, queued.entry_id).transfer_call_sid = colleague_leg
        db.session.commit()
    whisper = xml(_operator_answers(twilio, queued.entry_id, colleague, colleague_leg))
    assert "转接来电" in spoken(whisper) and "林坐席" in spoken(whisper)
    assert whisper.find("Dial/Conference").get("endConferenceOnExit") == "false", (
        "the colleague hanging up before the hand-over must not cut the caller off"
    )
    http_client.requests.clear()
    assert client.post(f"/console/api/queue/{queued.entry_id}/hand-over").get_json()["ok"]
    takes_over, keep, remove = http_client.requests
    participants = (
        f"https://api.twilio.com{ACCOUNT_PATH}/Conferences/{'CF' + 'c' * 32}/Participants"
    )
    assert (takes_over.method, takes_over.url, takes_over.data) == (
        "POST",
        f"{participants}/{colleague_leg}.json",
        {"EndConferenceOnExit": ["true"]},
    )
    participant = f"{participants}/{leg}.json"
    assert (keep.method, keep.url, keep.data) == (
        "POST",
        participant,
        {"EndConferenceOnExit": ["false"]},
    )
    assert (remove.method, remove.url) == ("DELETE", participant)
    entry = entry_of(app, queued.entry_id)
    assert entry.operator_id == colleague and entry.operator_call_sid == colleague_leg
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    assert operator_of(app, colleague).presence == Presence.BUSY


def _talks(app, entry_id: int) -> list[tuple[int, bool, TalkEnd | None]]:
    """(operator, still going on, how it ended) of each stretch of talk of the entry."""
    with app.app_context():
        rows = db.session.execute(
            select(OperatorTalk.operator_id, OperatorTalk.ended_at, OperatorTalk.ended_by)
            .where(OperatorTalk.queue_entry_id == entry_id)
            .order_by(OperatorTalk.id)
        ).all()
    return [(operator, ended is None, how) for operator, ended, how in rows]


def test_stretches_of_talk_follow_a_colleague_joining_leaving_and_a_hang_up(
    app, twilio, http_client, operator_client, make_operator
):
    """林's stretch opens when she answers; 赵's when he joins as a transfer; 赵 cancelled
    leaves (LEFT); 赵 rung in again and joined, then 林 hangs up on everyone: hers HUNG_UP,
    his CALL_ENDED."""
    colleague = make_operator("zhao", display_name="赵坐席", phone_number="+8613123456782")
    client, operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    assert _talks(app, queued.entry_id) == [(operator_id, True, None)]
    for turn in (1, 2):
        rung = client.post(f"/console/api/queue/{queued.entry_id}/transfer", data={"to": colleague})
        assert rung.get_json()["ok"], rung.get_json()
        leg = entry_of(app, queued.entry_id).transfer_call_sid
        _operator_answers(twilio, queued.entry_id, colleague, leg)
        if turn == 1:
            assert client.post(f"/console/api/queue/{queued.entry_id}/cancel-transfer").get_json()[
                "ok"
            ]
    assert _talks(app, queued.entry_id) == [
        (operator_id, True, None),
        (colleague, False, TalkEnd.LEFT),
        (colleague, True, None),
    ]
    assert client.post(f"/console/api/queue/{queued.entry_id}/hangup").get_json()["ok"]
    assert _talks(app, queued.entry_id) == [
        (operator_id, False, TalkEnd.HUNG_UP),
        (colleague, False, TalkEnd.LEFT),
        (colleague, False, TalkEnd.CALL_ENDED),
    ]


def test_take_this_one_already_taken_is_refused_clearly(
    app, twilio, http_client, operator_client, make_operator
):
    client, _operator_id = operator_client
    make_operator("zhao", phone_number="+8613123456782")
    other = app.test_client()
    login(other, "zhao")
    queued = reach_queue(twilio, app)
    assert _take(other, queued.entry_id).status_code == 200
    response = _take(client, queued.entry_id)
    assert response.status_code == 409
    assert response.get_json()["error"] == "这位来电者已经被其他坐席接走了。"


def test_an_operator_without_a_phone_is_told_before_anyone_is_claimed(
    app, twilio, http_client, make_operator
):
    make_operator("nophone", phone_number=None)
    client = app.test_client()
    login(client, "nophone")
    queued = reach_queue(twilio, app)
    response = _take(client)
    assert response.status_code == 400 and response.get_json()["code"] == "no_phone"
    assert entry_of(app, queued.entry_id).status == QueueStatus.WAITING
    assert http_client.requests == []


def test_browser_answering_rings_the_operators_client_identity(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    app.config.update(TWILIO_API_KEY_SID="SK" + "1" * 32, TWILIO_API_KEY_SECRET=API_SECRET)
    with app.app_context():
        db.session.scalar(select(Line)).is_browser_calling_enabled = True
        db.session.commit()
    reach_queue(twilio, app)
    assert _take(client, via="browser").status_code == 200
    assert http_client.requests[0].data["To"] == [f"client:operator-{operator_id}"]


def test_browser_answering_is_refused_where_the_line_does_not_allow_it(
    app, twilio, http_client, operator_client
):
    client, _operator_id = operator_client
    app.config.update(TWILIO_API_KEY_SID="SK" + "1" * 32, TWILIO_API_KEY_SECRET=API_SECRET)
    queued = reach_queue(twilio, app)
    response = _take(client, via="browser")
    assert response.get_json()["code"] == "no_browser"
    assert entry_of(app, queued.entry_id).status == QueueStatus.WAITING


def test_voice_token_carries_the_identity_and_an_incoming_voice_grant(app, operator_client):
    from twilio.jwt.access_token import AccessToken

    client, operator_id = operator_client
    assert client.get("/console/api/voice-token").status_code == 404
    app.config.update(TWILIO_API_KEY_SID="SK" + "1" * 32, TWILIO_API_KEY_SECRET=API_SECRET)
    body = client.get("/console/api/voice-token").get_json()
    token = AccessToken.from_jwt(body["token"], API_SECRET)
    assert token.payload["grants"]["identity"] == f"operator-{operator_id}"
    assert token.payload["grants"]["voice"] == {"incoming": {"allow": True}}
    assert token.payload["iss"] == "SK" + "1" * 32
