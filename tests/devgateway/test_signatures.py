"""The gateway signs every webhook exactly as Twilio does."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from hotline.devgateway.webhooks import compute_signature, signed_url_and_body

from .harness import AUTH_TOKEN, StandIn, twiml


def test_signature_matches_twilios_published_test_vector():
    """twilio.md's vector from twilio-python's own tests."""
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_repeated_parameters_are_all_signed():
    """Every value of a repeated key takes part, sorted, as RequestValidator expects."""
    params = [("Event", "b"), ("Event", "a"), ("To", "+1")]
    signature = compute_signature("token", "https://x.test/cb", params)
    from werkzeug.datastructures import MultiDict

    assert RequestValidator("token").validate("https://x.test/cb", MultiDict(params), signature)
    assert not RequestValidator("token").validate(
        "https://x.test/cb", MultiDict(params[1:]), signature
    )


def test_get_webhooks_put_the_parameters_in_the_signed_query_string():
    """method="GET": no body; the URL with the query is what gets signed."""
    url, body = signed_url_and_body("http://h/x?node=1", "GET", [("Digits", "5")])
    assert url == "http://h/x?node=1&Digits=5"
    assert body is None


def test_every_webhook_of_a_call_passes_the_hotlines_signature_check(standin: StandIn, gateway):
    """Voice URL, Gather action with a query string, GET redirect, and the status callback."""
    standin.route(
        "/twilio/voice",
        twiml(
            '<Gather numDigits="1" action="/twilio/voice/input?node=main_menu"><Say>hi</Say></Gather>'
        ),
    )
    standin.route(
        "/twilio/voice/input", twiml('<Redirect method="GET">/twilio/voice/next?x=1</Redirect>')
    )
    standin.route("/twilio/voice/next", twiml("<Hangup/>"))
    call = gateway.dial()
    gateway.press(call["sid"], "1")
    gateway.idle()
    assert standin.paths() == [
        "/twilio/voice",
        "/twilio/voice/input",
        "/twilio/voice/next",
        "/twilio/voice/status",
    ]
    assert all(r.signature_ok for r in standin.received)
    assert standin.last("/twilio/voice/input").args == {"node": "main_menu"}
    get_request = standin.last("/twilio/voice/next")
    assert get_request.method == "GET"
    assert get_request.args["x"] == "1"
    assert get_request.args["CallSid"] == call["sid"]


def test_a_wrong_token_makes_the_hotline_refuse_and_the_caller_hears_an_error(
    standin: StandIn, gateway_factory
):
    """Signed with another token, the app answers 403: the developer sees it prominently."""
    gateway = gateway_factory(TWILIO_AUTH_TOKEN="not-the-token")
    standin.route("/twilio/voice", twiml("<Say>never</Say>"))
    call = gateway.dial()
    gateway.advance(10)
    assert not standin.last("/twilio/voice").signature_ok
    problems = gateway.api("GET", "/problems")["problems"]
    assert any(p["severity"] == "error" and "403" in p["message"] for p in problems)
    assert gateway.call(call["sid"])["status"] == "completed"


def test_signature_uses_the_auth_token_from_the_configuration(standin: StandIn, gateway):
    """The signature header is the validator's computation over URL and params."""
    standin.route("/twilio/voice", twiml("<Hangup/>"))
    gateway.dial()
    gateway.idle()
    received = standin.last("/twilio/voice")
    expected = RequestValidator(AUTH_TOKEN).compute_signature(
        received.url, dict(received.form_items)
    )
    exchange = gateway.api("GET", "/exchanges")["exchanges"][-1]
    assert exchange["signature"] == expected
