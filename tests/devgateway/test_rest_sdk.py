"""The REST subset through the real twilio SDK: shapes, status codes, errors, status callbacks."""

from __future__ import annotations

from datetime import datetime

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .harness import ACCOUNT_SID, AUTH_TOKEN, ELDER, LINE, OPERATOR, StandIn, twiml

ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


def test_a_wrong_token_is_refused_with_401(gateway):
    """Basic auth with the wrong token: 401, Twilio's error JSON, and the SDK raises."""
    http_client = TwilioHttpClient()
    assert http_client.session is not None
    http_client.session.trust_env = False
    client = Client(ACCOUNT_SID, "wrong-token", http_client=http_client)
    client.api.base_url = gateway.url
    try:
        with pytest.raises(TwilioRestException) as error:
            client.messages.create(to=ELDER, from_=LINE, body="hi")
    finally:
        http_client.session.close()
    assert error.value.status == 401
    assert error.value.code == 20003
    raw = gateway.session.get(gateway.url + f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    assert raw.status_code == 401
    assert raw.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert raw.headers["WWW-Authenticate"].startswith("Basic")
    records = gateway.api("GET", "/rest-requests")["requests"]
    assert records[0]["status_code"] == 401 and records[0]["authorized"] is False


def test_another_accounts_path_is_refused(gateway):
    """The AccountSid in the path must be the authenticated one."""
    other = "AC" + "1" * 32
    response = gateway.session.get(
        gateway.url + f"/2010-04-01/Accounts/{other}/Calls.json", auth=(ACCOUNT_SID, AUTH_TOKEN)
    )
    assert response.status_code == 403


def test_messages_create_returns_twilios_shape_and_calls_back(
    standin: StandIn, gateway, twilio_client
):
    """201 with an SM sid; then sent and delivered status callbacks; the phone's inbox has it."""
    message = twilio_client.messages.create(
        to=ELDER,
        from_=LINE,
        body="【长者热线】案件 A-1024：我们将于明天10:00回电。",
        status_callback=standin.url + "/twilio/sms/status",
    )
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.num_segments == "1"
    assert isinstance(message.date_created, datetime)
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"
    gateway.idle()
    callbacks = standin.requests_to("/twilio/sms/status")
    assert [c["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    assert callbacks[0]["MessageSid"] == message.sid
    assert all(c.signature_ok for c in callbacks)
    fetched = twilio_client.messages(message.sid).fetch()
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None
    inbox = gateway.api("GET", f"/phones/{ELDER}/messages")["messages"]
    assert inbox[-1]["body"].startswith("【长者热线】")
    assert [m.sid for m in twilio_client.messages.list(to=ELDER)] == [message.sid]
    assert twilio_client.messages.list(to="+8613000000000") == []


def test_messages_create_validates_like_twilio(gateway, twilio_client):
    """Missing body and bad numbers raise with Twilio's codes."""
    with pytest.raises(TwilioRestException) as error:
        twilio_client.messages.create(to=ELDER, from_=LINE, body="")
    assert error.value.code == 21602
    with pytest.raises(TwilioRestException) as error:
        twilio_client.messages.create(to="13123456701", from_=LINE, body="x")
    assert error.value.code == 21211
    with pytest.raises(TwilioRestException) as error:
        twilio_client.messages.create(to=ELDER, from_=LINE, body="字" * 1601)
    assert error.value.code == 21617


def test_long_chinese_sms_counts_ucs2_segments(gateway, twilio_client):
    """71 Chinese characters need two segments (67 each once split)."""
    message = twilio_client.messages.create(to=ELDER, from_=LINE, body="字" * 71)
    assert message.num_segments == "2"
    message = twilio_client.messages.create(to=ELDER, from_=LINE, body="a" * 160)
    assert message.num_segments == "1"


def test_messaging_service_sends_from_a_line(gateway, twilio_client):
    """MessagingServiceSid without From: accepted, the service picks the line."""
    message = twilio_client.messages.create(
        to=ELDER, messaging_service_sid="MG" + "0" * 32, body="hi"
    )
    assert message.status == "accepted"
    assert message.messaging_service_sid == "MG" + "0" * 32


def test_calls_create_with_status_callbacks_in_order(
    standin: StandIn, gateway_factory, twilio_client
):
    """An auto-answered callback call: initiated, ringing, answered, completed; SequenceNumber 0..3."""
    gateway = gateway_factory(AUTO_ANSWER_NUMBERS=OPERATOR)
    twilio_client.api.base_url = gateway.url
    standin.route("/callback-call", twiml("<Say>这里是长者热线回电</Say><Hangup/>"))
    call = twilio_client.calls.create(
        to=OPERATOR, from_=LINE, url=standin.url + "/callback-call",
        status_callback=standin.url + "/twilio/voice/status",
        status_callback_event=ALL_EVENTS, status_callback_method="POST", timeout=30,
        machine_detection="Enable",
    )  # fmt: skip
    assert call.sid.startswith("CA")
    assert call.status == "queued"
    assert call.direction == "outbound-api"
    assert call.to == OPERATOR and call._from == LINE
    gateway.advance(1)  # the auto-answer delay
    answer_request = standin.last("/callback-call")
    assert answer_request["CallStatus"] == "in-progress"
    assert answer_request["Direction"] == "outbound-api"
    assert answer_request["AnsweredBy"] == "human"
    assert twilio_client.calls(call.sid).fetch().status == "in-progress"
    gateway.advance(10)
    statuses = standin.requests_to("/twilio/voice/status")
    assert [s["CallStatus"] for s in statuses] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [s["SequenceNumber"] for s in statuses] == ["0", "1", "2", "3"]
    assert all(s["CallbackSource"] == "call-progress-events" for s in statuses)
    assert all(s["Timestamp"].endswith("+0000") for s in statuses)
    assert "CallDuration" in statuses[-1].form and "CallDuration" not in statuses[0].form
    fetched = twilio_client.calls(call.sid).fetch()
    assert fetched.status == "completed"
    assert fetched.duration == statuses[-1]["CallDuration"]
    assert isinstance(fetched.end_time, datetime)


def test_an_unanswered_call_reports_no_answer(standin: StandIn, gateway, twilio_client):
    """Nobody picks up within Timeout: completed event with CallStatus=no-answer."""
    call = twilio_client.calls.create(
        to=OPERATOR, from_=LINE, twiml="<Response><Say>hi</Say></Response>", timeout=15,
        status_callback=standin.url + "/twilio/voice/status",
    )  # fmt: skip
    gateway.advance(16)
    status = standin.last("/twilio/voice/status")
    assert status["CallStatus"] == "no-answer"
    assert twilio_client.calls(call.sid).fetch().status == "no-answer"
    problems = gateway.api("GET", "/problems")["problems"]
    assert any(p["code"] == "GW-NOANSWER" for p in problems)


def test_a_declined_call_is_busy(standin: StandIn, gateway, twilio_client):
    """The dev phone declines: busy."""
    gateway.api("GET", f"/phones/{OPERATOR}", expect=200)
    call = twilio_client.calls.create(to=OPERATOR, from_=LINE, url=standin.url + "/never")
    gateway.idle()
    gateway.api("POST", f"/calls/{call.sid}/decline", expect=200)
    assert twilio_client.calls(call.sid).fetch().status == "busy"


def test_calls_update_redirects_a_live_call_and_hangs_it_up(
    standin: StandIn, gateway, twilio_client
):
    """update(url=...) runs new TwiML now; update(twiml=...) too; update(status=completed) ends it."""
    standin.route("/twilio/voice", twiml("<Say>等待</Say><Pause length='100'/>"))
    standin.route("/moved", twiml("<Pause length='100'/>"))
    call = gateway.dial()
    updated = twilio_client.calls(call["sid"]).update(url=standin.url + "/moved", method="POST")
    assert updated.sid == call["sid"]
    gateway.idle()
    assert standin.last("/moved")["CallSid"] == call["sid"]
    twilio_client.calls(call["sid"]).update(
        twiml="<Response><Say>inline</Say><Pause length='50'/></Response>"
    )
    gateway.idle()
    assert gateway.call(call["sid"])["transcript"][-1]["text"] == "inline"
    ended = twilio_client.calls(call["sid"]).update(status="completed")
    assert ended.sid == call["sid"]
    gateway.idle()
    assert twilio_client.calls(call["sid"]).fetch().status == "completed"
    with pytest.raises(TwilioRestException) as error:
        twilio_client.calls(call["sid"]).update(url=standin.url + "/moved")
    assert error.value.code == 21220


def test_calls_list_and_fetch_errors(standin: StandIn, gateway, twilio_client):
    """List filters, a 404 with code 20404 for an unknown sid."""
    standin.route("/twilio/voice", twiml("<Pause length='100'/>"))
    first = gateway.dial(ELDER)
    gateway.dial("+8613123456702")
    calls = twilio_client.calls.list(from_=ELDER)
    assert [c.sid for c in calls] == [first["sid"]]
    assert len(twilio_client.calls.list()) == 2
    assert len(twilio_client.calls.list(page_size=1, limit=2)) == 2
    with pytest.raises(TwilioRestException) as error:
        twilio_client.calls("CA" + "9" * 32).fetch()
    assert error.value.status == 404 and error.value.code == 20404


def test_calls_create_validates_like_twilio(gateway, twilio_client):
    """Missing Url/Twiml and a bad To."""
    with pytest.raises(TwilioRestException) as error:
        twilio_client.calls.create(to=OPERATOR, from_=LINE)
    assert error.value.code == 21205
    with pytest.raises(TwilioRestException) as error:
        twilio_client.calls.create(to="12345", from_=LINE, url="http://x.test/a")
    assert error.value.code == 21211
    with pytest.raises(TwilioRestException) as error:
        twilio_client.calls.create(to=OPERATOR, from_=LINE, url="/relative")
    assert error.value.code == 21205


def test_queues_are_created_and_fetched(gateway, twilio_client):
    """Queues.create/fetch/list, with a duplicate name refused."""
    queue = twilio_client.queues.create(friendly_name="line-2", max_size=20)
    assert queue.sid.startswith("QU") and queue.max_size == 20 and queue.current_size == 0
    assert twilio_client.queues(queue.sid).fetch().friendly_name == "line-2"
    assert [q.sid for q in twilio_client.queues.list()] == [queue.sid]
    with pytest.raises(TwilioRestException):
        twilio_client.queues.create(friendly_name="line-2")


def test_every_rest_request_is_recorded_with_its_form(gateway, twilio_client):
    """The developer page and tests see method, path and the exact form the SDK sent."""
    twilio_client.messages.create(to=ELDER, from_=LINE, body="hello")
    record = gateway.api("GET", "/rest-requests")["requests"][0]
    assert record["method"] == "POST"
    assert record["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert ["Body", "hello"] in record["form"]
    assert record["status_code"] == 201 and record["authorized"] is True


def test_unknown_resources_get_twilios_404(gateway):
    """Not emulated: 404 JSON, and a warning for the developer."""
    response = gateway.session.get(
        gateway.url + f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json",
        auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10,
    )  # fmt: skip
    assert response.status_code == 404
    assert response.json()["code"] == 20404


def test_recording_media_has_two_channels_the_calls_length_and_answers_ranges(gateway):
    """A recorded conference's media as Twilio's media host serves it: dual channel (the caller
    at 400 Hz, everyone else at 500 Hz), as long as the recording (at most 10 minutes), a
    downmix on RequestedChannels=1, a refusal of RequestedChannels=2 for a mono recording
    (Twilio's 16113), and byte ranges (206 with Content-Range; 416 past the end)."""
    import io
    import wave

    from hotline.devgateway.model import Recording

    sim = gateway.sim
    sim.recordings["RE" + "1" * 32] = Recording(
        "RE" + "1" * 32, "", "", 95, 0.0, conference_sid="CF" + "1" * 32, channels=2
    )
    sim.recordings["RE" + "2" * 32] = Recording("RE" + "2" * 32, "CA1", "hello", 3, 0.0)
    sim.recordings["RE" + "3" * 32] = Recording(
        "RE" + "3" * 32, "", "", 3600, 0.0, conference_sid="CF" + "3" * 32, channels=2
    )
    base = gateway.url + f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"

    def get(path: str, **headers: str):
        return gateway.session.get(base + path, headers=headers, timeout=30)

    whole = get("RE" + "1" * 32 + ".wav?RequestedChannels=2")
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "audio/x-wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Length"] == str(len(whole.content))
    with wave.open(io.BytesIO(whole.content)) as audio:
        assert (audio.getnchannels(), audio.getframerate(), audio.getsampwidth()) == (2, 8000, 2)
        assert audio.getnframes() == 95 * 8000
        first = audio.readframes(20)
    # Interleaved frames: the caller's 400 Hz tone repeats every 20 samples, the other
    # side's 500 Hz every 16; frame 0 is silence on both, frame 5 peaks on the caller's side.
    left = [int.from_bytes(first[i : i + 2], "little", signed=True) for i in range(0, 80, 4)]
    right = [int.from_bytes(first[i + 2 : i + 4], "little", signed=True) for i in range(0, 80, 4)]
    assert left[0] == right[0] == 0 and left[5] == 3000 and left != right

    mono = get("RE" + "1" * 32 + ".wav?RequestedChannels=1")
    with wave.open(io.BytesIO(mono.content)) as audio:
        assert (audio.getnchannels(), audio.getnframes()) == (1, 95 * 8000)
        mixed = audio.readframes(20)
    # Both sides in the one channel: frame 4 is the mean of the two tones there.
    assert int.from_bytes(mixed[8:10], "little", signed=True) == (left[4] + right[4]) // 2
    refused = get("RE" + "2" * 32 + ".wav?RequestedChannels=2")
    assert refused.status_code == 400 and refused.json()["code"] == 16113
    with wave.open(io.BytesIO(get("RE" + "2" * 32 + ".wav").content)) as audio:
        assert (audio.getnchannels(), audio.getnframes()) == (1, 3 * 8000)
    assert get("RE" + "2" * 32 + ".txt").text == "hello"
    # An hour-long conference: its media stops at 10 minutes.
    with wave.open(io.BytesIO(get("RE" + "3" * 32).content)) as audio:
        assert audio.getnframes() == 600 * 8000

    size = len(whole.content)
    part = get("RE" + "1" * 32 + ".wav?RequestedChannels=2", Range="bytes=100-199")
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{size}"
    assert part.headers["Accept-Ranges"] == "bytes"
    tail = get("RE" + "1" * 32 + ".wav?RequestedChannels=2", Range="bytes=-10")
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    rest = get("RE" + "1" * 32 + ".wav?RequestedChannels=2", Range=f"bytes={size - 5}-")
    assert rest.content == whole.content[-5:]
    beyond = get("RE" + "1" * 32 + ".wav?RequestedChannels=2", Range=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
