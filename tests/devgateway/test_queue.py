"""<Enqueue>, the waitUrl loop, REST dequeue to a conference, <Leave>, <Dial><Queue>."""

from __future__ import annotations

from .harness import ELDER, OPERATOR, StandIn, twiml

ENQUEUE = twiml(
    '<Enqueue waitUrl="/twilio/voice/wait" action="/twilio/voice/queue-exit">line-1</Enqueue>'
)
WAIT = twiml('<Say language="zh-CN">请稍候，马上为您接通。</Say><Pause length="20"/>')


def test_waiting_caller_hears_the_wait_url_again_whenever_it_runs_out(standin: StandIn, gateway):
    """waitUrl gets QueuePosition and friends, and is re-requested after its TwiML ends."""
    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    call = gateway.dial()
    first = standin.last("/twilio/voice/wait")
    assert first["QueuePosition"] == "1"
    assert first["CurrentQueueSize"] == "1"
    assert first["QueueTime"] == "0"
    assert first["MaxQueueSize"] == "100"
    assert first["QueueSid"].startswith("QU")
    assert "AvgQueueTime" in first.form
    view = gateway.call(call["sid"])
    assert view["queue"] == {"sid": first["QueueSid"], "name": "line-1", "position": 1, "size": 1}
    gateway.advance(30)
    waits = standin.requests_to("/twilio/voice/wait")
    assert len(waits) == 2
    assert int(waits[1]["QueueTime"]) >= 20


def test_positions_are_first_in_first_out_per_queue(standin: StandIn, gateway):
    """The second caller is told position 2 and moves up when the first leaves."""
    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    standin.route("/twilio/voice/queue-exit", twiml("<Hangup/>"))
    first = gateway.dial(ELDER)
    gateway.dial("+8613123456702")
    assert standin.last("/twilio/voice/wait")["QueuePosition"] == "2"
    gateway.api("POST", f"/calls/{first['sid']}/hangup", expect=200)
    gateway.advance(30)
    assert standin.last("/twilio/voice/wait")["QueuePosition"] == "1"


def test_hanging_up_in_the_queue_reports_queue_result_hangup(standin: StandIn, gateway):
    """The Enqueue action hears QueueResult=hangup; then the final status callback."""
    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    call = gateway.dial()
    gateway.advance(12)
    gateway.api("POST", f"/calls/{call['sid']}/hangup", expect=200)
    gateway.idle()
    exit_request = standin.last("/twilio/voice/queue-exit")
    assert exit_request["QueueResult"] == "hangup"
    assert exit_request["CallStatus"] == "completed"
    assert exit_request["QueueTime"] == "12"
    assert standin.paths()[-2:] == ["/twilio/voice/queue-exit", "/twilio/voice/status"]
    status = standin.last("/twilio/voice/status")
    assert status["CallStatus"] == "completed"
    assert status["CallDuration"] == "12"


def test_rest_dequeue_of_a_specific_caller_sends_them_to_the_conference(
    standin: StandIn, gateway, twilio_client
):
    """queues(sid).members(call_sid).update(url=...) takes exactly that caller, not the head."""
    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    standin.route(
        "/twilio/voice/connect",
        twiml(
            '<Dial><Conference endConferenceOnExit="true" waitUrl="">case-42</Conference></Dial>'
        ),
    )
    head = gateway.dial(ELDER)
    priority = gateway.dial("+8613123456702")
    queue_sid = standin.last("/twilio/voice/wait")["QueueSid"]

    members = twilio_client.queues(queue_sid).members.list()
    assert [m.call_sid for m in members] == [head["sid"], priority["sid"]]
    assert [m.position for m in members] == [1, 2]

    member = (
        twilio_client.queues(queue_sid)
        .members(priority["sid"])
        .update(url=standin.url + "/twilio/voice/connect", method="POST")
    )
    assert member.call_sid == priority["sid"]
    assert member.position == 2
    gateway.idle()

    exit_request = standin.last("/twilio/voice/queue-exit")
    assert exit_request["CallSid"] == priority["sid"]
    assert exit_request["QueueResult"] == "redirected"
    assert standin.last("/twilio/voice/connect")["CallSid"] == priority["sid"]
    view = gateway.call(priority["sid"])
    assert view["activity"] == "conference"
    assert view["conference"]["name"] == "case-42"
    assert gateway.call(head["sid"])["queue"]["position"] == 1
    assert [m.call_sid for m in twilio_client.queues(queue_sid).members.list()] == [head["sid"]]

    # The operator joins the same room through the Participants resource and is bridged.
    participant = twilio_client.conferences("case-42").participants.create(
        from_="+861012345678", to=OPERATOR, label="operator", early_media=True, beep="false"
    )
    gateway.idle()
    answer = gateway.api("POST", f"/calls/{participant.call_sid}/answer", expect=200)
    assert answer["call"]["activity"] == "conference"
    names = {p["number"] for p in answer["call"]["conference"]["participants"]}
    assert names == {"+8613123456702", OPERATOR}
    gateway.idle()
    assert "与 " + OPERATOR in gateway.call(priority["sid"])["transcript"][-1]["text"]


def test_dequeue_front_takes_the_head_of_the_queue(standin: StandIn, gateway, twilio_client):
    """members("Front")."""
    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    standin.route("/next", twiml("<Say>connected</Say><Pause length='60'/>"))
    head = gateway.dial(ELDER)
    gateway.dial("+8613123456702")
    queue = twilio_client.queues.list()[0]
    assert queue.friendly_name == "line-1"
    assert queue.current_size == 2
    member = twilio_client.queues(queue.sid).members("Front").update(url=standin.url + "/next")
    assert member.call_sid == head["sid"]
    gateway.idle()
    assert standin.last("/next")["CallSid"] == head["sid"]


def test_dequeue_of_someone_not_waiting_is_a_404(standin: StandIn, gateway, twilio_client):
    """The SDK raises TwilioRestException with Twilio's code."""
    import pytest
    from twilio.base.exceptions import TwilioRestException

    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    gateway.dial()
    queue_sid = standin.last("/twilio/voice/wait")["QueueSid"]
    with pytest.raises(TwilioRestException) as error:
        twilio_client.queues(queue_sid).members("CA" + "f" * 32).update(url=standin.url + "/x")
    assert error.value.status == 404
    assert error.value.code == 20404


def test_leave_in_the_wait_url_runs_the_enqueue_action(standin: StandIn, gateway):
    """Gather in the waitUrl, then <Leave> from its action: QueueResult=leave, action TwiML runs."""
    standin.route("/twilio/voice", ENQUEUE)
    standin.route(
        "/twilio/voice/wait",
        twiml(
            '<Gather numDigits="1" action="/twilio/voice/wait-key" timeout="10"><Say>按1留言</Say></Gather>'
        ),
    )
    standin.route("/twilio/voice/wait-key", twiml("<Leave/>"))
    standin.route("/twilio/voice/queue-exit", twiml("<Say>请留言</Say><Pause length='60'/>"))
    call = gateway.dial()
    gateway.press(call["sid"], "1")
    wait_key = standin.last("/twilio/voice/wait-key")
    assert wait_key["Digits"] == "1"
    assert wait_key["QueuePosition"] == "1"  # still in the queue while the action runs
    exit_request = standin.last("/twilio/voice/queue-exit")
    assert exit_request["QueueResult"] == "leave"
    assert gateway.call(call["sid"])["queue"] is None


def test_dial_queue_bridges_the_agent_with_the_head_of_the_queue(standin: StandIn, gateway_factory):
    """An operator's auto-answered call <Dial><Queue url=...>: Queue url, bridge, both actions."""
    gateway = gateway_factory(AUTO_ANSWER_NUMBERS=OPERATOR)
    standin.route("/twilio/voice", ENQUEUE)
    standin.route("/twilio/voice/wait", WAIT)
    standin.route("/whisper", twiml("<Say>正在为您接通</Say>"))
    standin.route(
        "/agent", twiml('<Dial action="/agent-done"><Queue url="/whisper">line-1</Queue></Dial>')
    )
    standin.route("/agent-done", twiml("<Hangup/>"))
    standin.route("/twilio/voice/queue-exit", twiml("<Say>谢谢</Say><Hangup/>"))
    caller = gateway.dial()
    gateway.api("POST", f"/phones/{OPERATOR}/calls", expect=404, to=OPERATOR)  # not a line
    gateway.sim.create_rest_call(
        to=OPERATOR, from_="+861012345678", url=standin.url + "/agent", twiml=None, method="POST",
        fallback_url=None, fallback_method="POST", status_callback=None,
        status_callback_method="POST", status_callback_events=set(), timeout=30,
        machine_detection=None,
    )  # fmt: skip
    gateway.advance(1)
    whisper = standin.last("/whisper")
    assert whisper["CallSid"] == caller["sid"]
    assert whisper["DequeingCallSid"].startswith("CA")
    assert whisper["QueueSid"].startswith("QU")
    gateway.advance(2)
    view = gateway.call(caller["sid"])
    assert view["activity"] == "connected"
    assert view["connected_with"][0]["number"] == OPERATOR
    gateway.api("POST", f"/calls/{whisper['DequeingCallSid']}/hangup", expect=200)
    gateway.idle()
    assert standin.last("/twilio/voice/queue-exit")["QueueResult"] == "bridged"
    assert standin.last("/agent-done")["DialCallStatus"] == "completed"
    assert standin.last("/agent-done")["DialCallSid"] == caller["sid"]
