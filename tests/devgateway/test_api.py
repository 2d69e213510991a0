"""The gateway's own JSON API: phones, registration, waiting, reset; REST calls from webhooks."""

from __future__ import annotations

from .harness import ELDER, LINE, OPERATOR, StandIn, twiml


def test_a_phone_poll_registers_the_number_and_returns_new_events_only(standin: StandIn, gateway):
    """`since` gives only newer transcript events; register=0 only looks."""
    assert gateway.api("GET", f"/phones/{OPERATOR}?register=0", expect=200)["registered"] is False
    standin.route("/twilio/voice", twiml("<Say>第一句</Say><Say>第二句</Say>"))
    gateway.dial(ELDER)
    state = gateway.api("GET", f"/phones/{ELDER}", expect=200)
    assert state["registered"] is True
    assert state["call"]["activity"] == "speaking"
    assert [e["text"] for e in state["events"] if e["kind"] == "say"] == ["第一句"]
    gateway.advance(1)
    newer = gateway.api("GET", f"/phones/{ELDER}?since={state['last_event_id']}", expect=200)
    assert [e["text"] for e in newer["events"]] == ["第二句"]


def test_a_ringing_call_shows_as_incoming_until_answered(standin: StandIn, gateway, twilio_client):
    """The operator phone sees the ring, answers, and the call becomes its live call."""
    standin.route("/callback", twiml("<Say>您好，这里是长者热线回电。</Say><Pause length='30'/>"))
    gateway.api("GET", f"/phones/{ELDER}", expect=200)
    call = twilio_client.calls.create(to=ELDER, from_=LINE, url=standin.url + "/callback")
    gateway.idle()
    state = gateway.api("GET", f"/phones/{ELDER}", expect=200)
    assert state["incoming"] == [{"call_sid": call.sid, "from": LINE, "to": ELDER}]
    assert state["call"] is None
    answered = gateway.api("POST", f"/calls/{call.sid}/answer", expect=200)
    assert answered["call"]["status"] == "in-progress"
    assert [e["text"] for e in answered["events"] if e["kind"] == "say"] == [
        "您好，这里是长者热线回电。"
    ]
    state = gateway.api("GET", f"/phones/{ELDER}", expect=200)
    assert state["incoming"] == [] and state["call"]["sid"] == call.sid


def test_answering_a_call_that_is_not_ringing_is_refused(standin: StandIn, gateway):
    """409 with a message."""
    standin.route("/twilio/voice", twiml("<Pause length='30'/>"))
    call = gateway.dial()
    response = gateway.api("POST", f"/calls/{call['sid']}/answer", expect=409)
    assert "not ringing" in response["error"]


def test_unknown_calls_and_bad_keys_are_refused(gateway):
    """404 for an unknown call, 400 for keys outside 0-9 * #."""
    gateway.api("GET", "/calls/CA" + "0" * 32, expect=404)
    gateway.api("POST", "/calls/CA" + "0" * 32 + "/digits", expect=400, digits="A")


def test_the_app_may_call_the_rest_api_from_inside_a_webhook(
    standin: StandIn, gateway, twilio_client
):
    """No deadlock: the webhook handler sends an SMS and redirects another call synchronously."""
    standin.route("/twilio/voice/wait", twiml("<Pause length='30'/>"))
    standin.route("/twilio/voice/connect", twiml("<Say>正在为您接通</Say><Pause length='30'/>"))

    def voice(request):
        """Enqueue the first caller; for the second, text it and dequeue the first by REST."""
        if request.form["From"] == ELDER:
            return twiml('<Enqueue waitUrl="/twilio/voice/wait">line-1</Enqueue>')
        twilio_client.messages.create(to=request.form["From"], from_=LINE, body="已收到来电")
        queue = twilio_client.queues.list()[0]
        waiting = twilio_client.queues(queue.sid).members.list()[0]
        twilio_client.queues(queue.sid).members(waiting.call_sid).update(
            url=standin.url + "/twilio/voice/connect"
        )
        return twiml("<Say>好的</Say><Pause length='30'/>")

    standin.route("/twilio/voice", voice)
    first = gateway.dial(ELDER)
    gateway.dial("+8613123456702")
    gateway.idle()
    assert standin.last("/twilio/voice/connect")["CallSid"] == first["sid"]
    assert gateway.api("GET", "/messages")["messages"][0]["body"] == "已收到来电"


def test_wait_none_returns_before_the_app_answered(standin: StandIn, gateway):
    """Benchmarks do not wait; /api/wait settles everything afterwards."""
    standin.route("/twilio/voice", twiml("<Hangup/>"))
    call = gateway.api("POST", f"/phones/{ELDER}/calls", expect=201, to=LINE, wait="none")["call"]
    assert gateway.api("POST", "/wait", expect=200, timeout=10)["idle"] is True
    assert gateway.call(call["sid"])["status"] == "completed"


def test_reset_forgets_finished_calls_and_hangs_up_live_ones(standin: StandIn, gateway):
    """After reset the lists are empty."""
    standin.route("/twilio/voice", twiml("<Pause length='100'/>"))
    gateway.dial()
    gateway.api("POST", "/reset", expect=200)
    assert gateway.api("GET", "/calls", expect=200)["calls"] == []
    assert gateway.api("GET", "/rest-requests", expect=200)["requests"] == []


def test_advance_needs_the_manual_clock(gateway_factory):
    """With the real clock, time cannot be moved by hand."""
    gateway = gateway_factory(GATEWAY_CLOCK="real")
    response = gateway.api("POST", "/clock/advance", expect=409, seconds=5)
    assert "manual" in response["error"]
