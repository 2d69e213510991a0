"""<Dial><Number|Client>, <Record>, <Hangup> and <Reject>, and hanging up at any moment."""

from __future__ import annotations

from .harness import ELDER, LINE, OPERATOR, StandIn, twiml


def test_dial_number_rings_the_dev_phone_and_bridges_on_answer(standin: StandIn, gateway):
    """The operator's dev phone rings; both sides see "connected"; the Dial action follows."""
    standin.route(
        "/twilio/voice",
        twiml(
            f'<Dial action="/dial-done" timeout="20" callerId="{LINE}"><Number>{OPERATOR}</Number></Dial>'
        ),
    )
    standin.route("/dial-done", twiml("<Say>通话结束</Say><Hangup/>"))
    gateway.api("GET", f"/phones/{OPERATOR}", expect=200)
    caller = gateway.dial()
    operator_phone = gateway.api("GET", f"/phones/{OPERATOR}", expect=200)
    ringing = operator_phone["incoming"][0]
    assert ringing["from"] == LINE
    child = gateway.call(ringing["call_sid"])
    assert child["direction"] == "outbound-dial"
    assert child["parent_call_sid"] == caller["sid"]

    gateway.api("POST", f"/calls/{ringing['call_sid']}/answer", expect=200)
    gateway.idle()
    assert gateway.call(caller["sid"])["connected_with"] == [
        {"call_sid": ringing["call_sid"], "number": OPERATOR}
    ]
    assert gateway.call(ringing["call_sid"])["connected_with"][0]["call_sid"] == caller["sid"]

    gateway.advance(42)
    gateway.api("POST", f"/calls/{ringing['call_sid']}/hangup", expect=200)
    gateway.idle()
    done = standin.last("/dial-done")
    assert done["DialCallStatus"] == "completed"
    assert done["DialCallSid"] == ringing["call_sid"]
    assert done["DialCallDuration"] == "42"
    assert done["DialBridged"] == "true"


def test_dial_number_nobody_answers(standin: StandIn, gateway):
    """Dial timeout runs out: DialCallStatus=no-answer, the child leg is canceled."""
    standin.route(
        "/twilio/voice", twiml(f'<Dial action="/dial-done" timeout="15">{OPERATOR}</Dial>')
    )
    standin.route("/dial-done", twiml("<Pause length='60'/>"))
    caller = gateway.dial()
    gateway.advance(15)
    assert standin.last("/dial-done")["DialCallStatus"] == "no-answer"
    legs = [
        c for c in gateway.api("GET", "/calls")["calls"] if c["parent_call_sid"] == caller["sid"]
    ]
    assert legs[0]["status"] == "no-answer"


def test_dial_without_action_falls_through_to_the_next_verb(standin: StandIn, gateway):
    """A busy dev phone (already on a call) declines at once; the next verb runs."""
    standin.route("/twilio/voice", lambda req: twiml("<Pause length='100'/>") if req.form["From"] == OPERATOR
                  else twiml(f"<Dial>{OPERATOR}</Dial><Say>对方忙</Say><Pause length='10'/>"))  # fmt: skip
    gateway.api("GET", f"/phones/{OPERATOR}", expect=200)
    gateway.dial(OPERATOR)  # the operator's phone is busy on its own call
    caller = gateway.dial(ELDER)
    gateway.idle()
    texts = [e["text"] for e in gateway.call(caller["sid"])["transcript"]]
    assert "对方忙" in texts


def test_hangup_on_star_ends_the_bridge_and_continues(standin: StandIn, gateway_factory):
    """hangupOnStar: the caller presses * and comes back to the TwiML after <Dial>."""
    gateway = gateway_factory(AUTO_ANSWER_NUMBERS=OPERATOR)
    standin.route(
        "/twilio/voice",
        twiml(
            f'<Dial hangupOnStar="true"><Number>{OPERATOR}</Number></Dial><Say>回到菜单</Say><Pause length="9"/>'
        ),
    )
    caller = gateway.dial()
    gateway.advance(1)
    assert gateway.call(caller["sid"])["activity"] == "connected"
    gateway.press(caller["sid"], "*")
    gateway.idle()
    assert "回到菜单" in [e["text"] for e in gateway.call(caller["sid"])["transcript"]]
    legs = [
        c for c in gateway.api("GET", "/calls")["calls"] if c["parent_call_sid"] == caller["sid"]
    ]
    assert legs[0]["status"] == "completed"


def test_dial_client_rings_the_dev_phone_of_that_identity(standin: StandIn, gateway):
    """<Client>operator1</Client> rings the dev phone registered as client:operator1."""
    standin.route("/twilio/voice", twiml("<Dial><Client>operator1</Client></Dial>"))
    gateway.api("GET", "/phones/client:operator1", expect=200)
    gateway.dial()
    phone = gateway.api("GET", "/phones/client:operator1", expect=200)
    assert phone["incoming"][0]["from"] == ELDER


def test_record_posts_the_recording_to_the_action(standin: StandIn, gateway):
    """The caller types the message and presses #: RecordingUrl/Duration/Sid and Digits."""
    standin.route(
        "/twilio/voice",
        twiml(
            '<Say>请在嘀声后留言</Say><Record action="/recorded" maxLength="120" finishOnKey="#" timeout="5"/>'
        ),
    )
    standin.route("/recorded", twiml("<Say>已收到留言</Say><Hangup/>"))
    call = gateway.dial()
    gateway.api("POST", f"/calls/{call['sid']}/timeout", expect=200)  # skip the prompt
    assert gateway.call(call["sid"])["expecting"]["type"] == "record"
    gateway.api(
        "POST",
        f"/calls/{call['sid']}/record",
        expect=200,
        text="我家的燃气灶打不着火了，请回电。",
        finish_key="#",
    )
    recorded = standin.last("/recorded")
    assert recorded["RecordingSid"].startswith("RE")
    assert recorded["Digits"] == "#"
    assert int(recorded["RecordingDuration"]) >= 3
    audio = gateway.session.get(recorded["RecordingUrl"], timeout=10)
    assert audio.text == "我家的燃气灶打不着火了，请回电。"


def test_record_ends_on_silence_and_skips_the_action_when_nothing_was_said(
    standin: StandIn, gateway
):
    """Silence only: no action request, the next verb runs."""
    standin.route(
        "/twilio/voice",
        twiml('<Record action="/recorded" timeout="5"/><Say>没有听到留言</Say><Pause length="9"/>'),
    )
    call = gateway.dial()
    gateway.advance(5)
    assert standin.requests_to("/recorded") == []
    assert "没有听到留言" in [e["text"] for e in gateway.call(call["sid"])["transcript"]]


def test_hanging_up_during_record_still_posts_the_recording(standin: StandIn, gateway):
    """Digits=hangup, CallStatus=completed."""
    standin.route(
        "/twilio/voice", twiml('<Record action="/recorded" timeout="10" playBeep="false"/>')
    )
    call = gateway.dial()
    gateway.say(call["sid"], "我想问养老金认证")
    gateway.api("POST", f"/calls/{call['sid']}/hangup", expect=200)
    gateway.idle()
    recorded = standin.last("/recorded")
    assert recorded["Digits"] == "hangup"
    assert recorded["CallStatus"] == "completed"


def test_hangup_verb_ends_the_call_with_a_final_status_callback(standin: StandIn, gateway):
    """<Hangup>: completed, status callback to the line's status URL."""
    standin.route("/twilio/voice", twiml("<Hangup/>"))
    call = gateway.dial()
    gateway.idle()
    assert gateway.call(call["sid"])["status"] == "completed"
    status = standin.last("/twilio/voice/status")
    assert status["CallStatus"] == "completed"
    assert status["CallDuration"] == "0"
    assert status["SequenceNumber"] == "0"


def test_reject_refuses_the_call_as_busy(standin: StandIn, gateway):
    """<Reject reason="busy"> as the first verb: the call is never answered."""
    standin.route("/twilio/voice", twiml('<Reject reason="busy"/>'))
    call = gateway.dial()
    gateway.idle()
    view = gateway.call(call["sid"])
    assert view["status"] == "busy"
    assert view["answered_at"] is None


def test_the_caller_can_hang_up_in_the_middle_of_a_prompt(standin: StandIn, gateway):
    """Hanging up at any moment ends the call properly."""
    standin.route(
        "/twilio/voice",
        twiml("<Say>这是一段很长很长的欢迎词，请耐心听完。</Say><Redirect>/next</Redirect>"),
    )
    call = gateway.dial()
    gateway.api("POST", f"/calls/{call['sid']}/hangup", expect=200)
    gateway.advance(30)
    assert standin.requests_to("/next") == []
    assert gateway.call(call["sid"])["end_reason"] == "the phone hung up"
