"""<Gather>, <Say> and <Pause> behave like Twilio, driven without real waiting."""

from __future__ import annotations

from .harness import ELDER, LINE, StandIn, twiml

MENU = twiml(
    '<Gather input="dtmf speech" numDigits="1" timeout="8" language="zh-CN" hints="看病,人工"'
    ' action="/twilio/voice/input?node=main_menu">'
    '<Say language="zh-CN"><prosody rate="85%">您好，这里是长者热线。</prosody>'
    'Press <say-as interpret-as="digits">0</say-as>.<break time="500ms"/></Say>'
    "</Gather>"
    '<Redirect method="POST">/twilio/voice/input?node=main_menu&amp;silence=1</Redirect>'
)


def test_first_request_has_twilios_inbound_parameters(standin: StandIn, gateway):
    """CallSid, AccountSid, From, To, CallStatus=ringing, Direction, ApiVersion, Caller, Called."""
    standin.route("/twilio/voice", MENU)
    call = gateway.dial()
    first = standin.last("/twilio/voice")
    assert first.form == {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call["sid"],
        "CallStatus": "ringing",
        "Called": LINE,
        "Caller": ELDER,
        "Direction": "inbound",
        "From": ELDER,
        "To": LINE,
    }
    assert call["sid"].startswith("CA") and len(call["sid"]) == 34


def test_the_prompt_reaches_the_phone_as_text_with_language_and_rate(standin: StandIn, gateway):
    """SSML prosody gives the rate, say-as digits reads digit by digit, yue-HK maps for browsers."""
    standin.route("/twilio/voice", MENU)
    call = gateway.dial()
    says = [e for e in gateway.call(call["sid"])["transcript"] if e["kind"] == "say"]
    assert says[0]["text"] == "您好，这里是长者热线。Press 0."
    assert says[0]["language"] == "zh-CN"
    assert says[0]["rate"] == 0.85
    assert [s["rate"] for s in says[0]["segments"] if s["text"]] == [0.85, 1.0]
    assert any(s["pause"] == 0.5 for s in says[0]["segments"])


def test_keys_go_to_the_action_with_digits(standin: StandIn, gateway):
    """numDigits=1: one key submits at once, during the prompt (barge-in)."""
    standin.route("/twilio/voice", MENU)
    standin.route("/twilio/voice/input", twiml("<Say>ok</Say>"))
    call = gateway.dial()
    result = gateway.press(call["sid"], "0")
    action = standin.last("/twilio/voice/input")
    assert action.args == {"node": "main_menu"}
    assert action["Digits"] == "0"
    assert action["CallStatus"] == "in-progress"
    assert "SpeechResult" not in action.form
    kinds = [e["kind"] for e in result["events"]]
    assert kinds[:2] == ["key", "stop"]


def test_speech_goes_to_the_action_with_speech_result_and_confidence(standin: StandIn, gateway):
    """input includes speech: the typed words arrive as SpeechResult."""
    standin.route("/twilio/voice", MENU)
    standin.route("/twilio/voice/input", twiml("<Say>ok</Say>"))
    call = gateway.dial()
    gateway.say(call["sid"], "我要看病", confidence=0.83)
    action = standin.last("/twilio/voice/input")
    assert action["SpeechResult"] == "我要看病"
    assert action["Confidence"] == "0.83"
    assert "Digits" not in action.form


def test_silence_runs_out_the_timeout_and_the_redirect_follows(standin: StandIn, gateway):
    """No input and no actionOnEmptyResult: Twilio goes on to the verb after <Gather>."""
    standin.route("/twilio/voice", MENU)
    standin.route("/twilio/voice/input", twiml("<Pause length='60'/>"))
    call = gateway.dial()
    gateway.advance(7)  # the prompt is over, the 8 s timeout has not run out yet
    assert standin.requests_to("/twilio/voice/input") == []
    gateway.advance(8)
    redirect = standin.last("/twilio/voice/input")
    assert redirect.args == {"node": "main_menu", "silence": "1"}
    assert "Digits" not in redirect.form
    assert any(
        e["kind"] == "note" and "no input" in e["text"]
        for e in gateway.call(call["sid"])["transcript"]
    )


def test_timeout_now_fires_the_pending_timer_without_moving_the_clock(standin: StandIn, gateway):
    """The explicit "timeout now" action: first the prompt ends, then the Gather gives up."""
    standin.route("/twilio/voice", MENU)
    standin.route("/twilio/voice/input", twiml("<Pause length='60'/>"))
    call = gateway.dial()
    gateway.api("POST", f"/calls/{call['sid']}/timeout", expect=200)
    assert gateway.call(call["sid"])["activity"] == "listening"
    gateway.api("POST", f"/calls/{call['sid']}/timeout", expect=200)
    assert standin.last("/twilio/voice/input").args["silence"] == "1"


def test_digits_collect_until_finish_on_key_or_num_digits(standin: StandIn, gateway):
    """finishOnKey is not part of Digits; the default action is the current document URL."""
    standin.route("/twilio/voice", twiml('<Gather timeout="5"><Say>id?</Say></Gather>'))
    call = gateway.dial()
    gateway.press(call["sid"], "4321#")
    again = standin.requests_to("/twilio/voice")[-1]
    assert again["Digits"] == "4321"
    assert again["CallStatus"] == "in-progress"


def test_digits_without_finish_key_submit_after_the_inter_digit_timeout(standin: StandIn, gateway):
    """A slow caller: keys so far are submitted once the timeout passes after the last one."""
    standin.route(
        "/twilio/voice", twiml('<Gather timeout="8" action="/a"><Pause length="1"/></Gather>')
    )
    standin.route("/a", twiml("<Pause length='60'/>"))
    call = gateway.dial()
    gateway.press(call["sid"], "12")
    assert standin.requests_to("/a") == []
    gateway.advance(8)
    assert standin.last("/a")["Digits"] == "12"


def test_action_on_empty_result_requests_the_action_without_input(standin: StandIn, gateway):
    """actionOnEmptyResult="true": the action gets a request even on silence."""
    standin.route(
        "/twilio/voice", twiml('<Gather actionOnEmptyResult="true" timeout="3" action="/a"/>')
    )
    standin.route("/a", twiml("<Pause length='60'/>"))
    gateway.dial()
    gateway.advance(3)
    assert "Digits" not in standin.last("/a").form


def test_keys_pressed_while_no_gather_listens_are_ignored_and_noted(standin: StandIn, gateway):
    """A plain <Say> cannot be interrupted: the key is lost, as on Twilio."""
    standin.route(
        "/twilio/voice", twiml("<Say>一段很长的通知，不能打断。</Say><Pause length='30'/>")
    )
    call = gateway.dial()
    result = gateway.press(call["sid"], "0")
    assert [e["kind"] for e in result["events"]] == ["key", "note"]
    assert "ignored" in result["events"][1]["text"]
    assert len(standin.requests_to("/twilio/voice")) == 1


def test_speech_is_ignored_by_a_dtmf_only_gather(standin: StandIn, gateway):
    """input="dtmf" (the default) does not hear words."""
    standin.route(
        "/twilio/voice", twiml('<Gather action="/a" timeout="9"><Say>press</Say></Gather>')
    )
    call = gateway.dial()
    result = gateway.say(call["sid"], "人工")
    assert standin.requests_to("/a") == []
    assert result["events"][-1]["kind"] == "note"


def test_say_loop_repeats_the_prompt(standin: StandIn, gateway):
    """loop="2" speaks twice, each taking its time."""
    standin.route("/twilio/voice", twiml('<Say loop="2">again</Say><Hangup/>'))
    call = gateway.dial()
    gateway.advance(5)
    transcript = gateway.call(call["sid"])["transcript"]
    assert [e["text"] for e in transcript if e["kind"] == "say"] == ["again", "again"]
    assert gateway.call(call["sid"])["status"] == "completed"


def test_pause_takes_simulated_time(standin: StandIn, gateway):
    """<Pause length="5"> then a Redirect: nothing happens before 5 s have passed."""
    standin.route("/twilio/voice", twiml('<Pause length="5"/><Redirect>/next</Redirect>'))
    standin.route("/next", twiml("<Hangup/>"))
    gateway.dial()
    gateway.advance(4.9)
    assert standin.requests_to("/next") == []
    gateway.advance(0.2)
    assert len(standin.requests_to("/next")) == 1
