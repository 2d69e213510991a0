"""App failures behave like Twilio and are shown loudly; SMS in both directions."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from .harness import ELDER, LINE, StandIn, twiml


def _errors(gateway) -> list[dict]:
    """The error-level problems the developer page shows in red."""
    return [p for p in gateway.api("GET", "/problems")["problems"] if p["severity"] == "error"]


def test_a_failing_voice_url_falls_back_to_the_fallback_url(standin: StandIn, gateway):
    """HTTP 500 from /twilio/voice: Twilio requests the number's fallback with ErrorCode/ErrorUrl."""
    standin.route("/twilio/voice", lambda req: ("boom", 500))
    standin.route("/twilio/voice/fallback", twiml("<Say>系统繁忙，我们会回电。</Say><Hangup/>"))
    call = gateway.dial()
    fallback = standin.last("/twilio/voice/fallback")
    assert fallback["ErrorCode"] == "11200"
    assert fallback["ErrorUrl"].endswith("/twilio/voice")
    assert fallback["CallSid"] == call["sid"]
    assert _errors(gateway)[0]["code"] == "11200"
    transcript = gateway.call(call["sid"])["transcript"]
    assert any(e["kind"] == "error" for e in transcript)
    assert "系统繁忙，我们会回电。" in [e["text"] for e in transcript]


def test_a_broken_action_url_plays_the_application_error_and_hangs_up(standin: StandIn, gateway):
    """No fallback for action URLs: "an application error has occurred", then the call ends."""
    standin.route(
        "/twilio/voice", twiml('<Gather numDigits="1" action="/input"><Say>按键</Say></Gather>')
    )
    standin.route("/input", "<Response><Say>unclosed</Response>")
    call = gateway.dial()
    result = gateway.press(call["sid"], "1")
    assert result["call"]["error"]["code"] == "12100"
    assert any("application error" in e["text"] for e in result["events"] if e["kind"] == "error")
    gateway.advance(10)
    view = gateway.call(call["sid"])
    assert view["status"] == "completed"
    assert view["end_reason"] == "application error"
    assert _errors(gateway)[0]["code"] == "12100"


def test_a_failing_fallback_ends_in_the_application_error(standin: StandIn, gateway):
    """Both the Voice URL and the fallback fail: the caller hears the error message."""
    standin.route("/twilio/voice", lambda req: ("", 503))
    standin.route("/twilio/voice/fallback", "not xml at all")
    call = gateway.dial()
    gateway.advance(10)
    assert gateway.call(call["sid"])["end_reason"] == "application error"
    assert [p["code"] for p in _errors(gateway)] == ["12100", "11200"]


def test_a_response_that_is_not_a_response_document_is_a_parse_failure(standin: StandIn, gateway):
    """The root must be <Response>."""
    standin.route("/twilio/voice", "<Say>hi</Say>")
    standin.route("/twilio/voice/fallback", twiml("<Hangup/>"))
    gateway.dial()
    assert "root element" in _errors(gateway)[0]["message"]


def test_unknown_attributes_are_warned_about(standin: StandIn, gateway):
    """A misspelled keyword becomes a 12200 warning, the call goes on."""
    standin.route(
        "/twilio/voice", twiml('<Gather numdigits="1" timeOut="8"><Say>x</Say></Gather><Hangup/>')
    )
    gateway.dial()
    warnings = [
        p for p in gateway.api("GET", "/problems")["problems"] if p["severity"] == "warning"
    ]
    messages = {w["message"] for w in warnings}
    assert "<Gather> has an unknown attribute 'numdigits'" in messages
    assert "<Gather> has an unknown attribute 'timeOut'" in messages


def test_a_redirect_loop_is_stopped(standin: StandIn, gateway):
    """A document that only redirects to itself would loop forever: the gateway stops it."""
    standin.route("/twilio/voice", twiml("<Redirect>/twilio/voice</Redirect>"))
    standin.route("/twilio/voice/fallback", twiml("<Redirect>/twilio/voice/fallback</Redirect>"))
    call = gateway.dial()
    gateway.advance(10)
    assert gateway.call(call["sid"])["status"] == "completed"
    assert _errors(gateway)[-1]["code"] == "GW-LOOP"


def test_an_unreachable_app_is_reported(standin: StandIn, gateway_factory):
    """Connection refused: 11200 on the voice URL and on the fallback."""
    gateway = gateway_factory(HOTLINE_URL="http://127.0.0.1:9")
    call = gateway.dial()
    gateway.advance(10)
    assert gateway.call(call["sid"])["status"] == "completed"
    assert [p["code"] for p in _errors(gateway)] == ["11200", "11200"]


def test_a_phone_texts_the_line_and_gets_the_twiml_reply(standin: StandIn, gateway):
    """The SMS webhook gets Twilio's parameters; <Message> replies land in the phone's inbox."""
    standin.route("/twilio/sms", twiml("<Message>已收到，案件号 A-1。</Message>"))
    gateway.api("POST", f"/phones/{ELDER}/messages", expect=201, to=LINE, body="我要预约回电")
    incoming = standin.last("/twilio/sms")
    assert incoming.signature_ok
    assert incoming["Body"] == "我要预约回电"
    assert incoming["From"] == ELDER and incoming["To"] == LINE
    assert incoming["MessageSid"].startswith("SM")
    assert incoming["SmsSid"] == incoming["MessageSid"]
    assert incoming["NumMedia"] == "0"
    assert incoming["NumSegments"] == "1"
    inbox = gateway.api("GET", f"/phones/{ELDER}/messages")["messages"]
    assert [(m["direction"], m["body"]) for m in inbox] == [
        ("inbound", "我要预约回电"),
        ("outbound-reply", "已收到，案件号 A-1。"),
    ]


def test_stop_opts_out_and_further_messages_fail_with_21610(
    standin: StandIn, gateway, twilio_client
):
    """Twilio's STOP handling: the app still gets the message, later sends are refused."""
    gateway.api("POST", f"/phones/{ELDER}/messages", expect=201, to=LINE, body="STOP")
    assert standin.last("/twilio/sms")["OptOutType"] == "STOP"
    with pytest.raises(TwilioRestException) as error:
        twilio_client.messages.create(to=ELDER, from_=LINE, body="回访")
    assert error.value.code == 21610
    gateway.api("POST", f"/phones/{ELDER}/messages", expect=201, to=LINE, body="START")
    assert twilio_client.messages.create(to=ELDER, from_=LINE, body="回访").status == "queued"


def test_texting_a_number_that_is_not_a_line_is_refused(gateway):
    """Only the configured LINES are hotline numbers."""
    response = gateway.api(
        "POST", f"/phones/{ELDER}/messages", expect=404, to="+861099999999", body="hi"
    )
    assert response["code"] == 21211
