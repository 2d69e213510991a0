"""Signature checks: Twilio's own test vector, PUBLIC_BASE_URL behind a proxy, every /twilio/ URL."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from conftest import TwilioCaller
from hotline.telephony.signature import is_valid_twilio_request

VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_twilio_test_vector():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert (
        RequestValidator("12345").compute_signature(url, VECTOR_PARAMS)
        == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


def test_app_accepts_the_test_vector_behind_a_proxy(make_app):
    app = make_app(TWILIO_AUTH_TOKEN="12345", PUBLIC_BASE_URL="https://mycompany.com")
    headers = {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}
    with app.test_request_context(
        "/myapp.php?foo=1&bar=2",
        method="POST",
        data=VECTOR_PARAMS,
        headers=headers,
        base_url="http://10.0.0.5:8000",
    ):
        from flask import request

        assert is_valid_twilio_request(request)
    with app.test_request_context(
        "/myapp.php?foo=1&bar=3", method="POST", data=VECTOR_PARAMS, headers=headers
    ):
        from flask import request

        assert not is_valid_twilio_request(request)


def test_public_base_url_is_what_gets_verified(app, make_app):
    proxied = make_app(PUBLIC_BASE_URL="https://hotline.example.org")
    good = TwilioCaller(proxied.test_client(), base_url="https://hotline.example.org")
    wrong = TwilioCaller(proxied.test_client(), base_url="http://localhost")
    params = good.call_params("CA" + "a" * 32)
    assert good.post("/twilio/voice", params).status_code == 200
    assert wrong.post("/twilio/voice", params).status_code == 403


def test_repeated_parameters_are_signed_like_twilio_signs_them(app, client):
    twilio = TwilioCaller(client)
    params = {
        "MessageSid": "SM" + "1" * 32,
        "From": "+8613123456701",
        "To": "+861012345678",
        "Body": "回电",
        "MediaUrl0": ["https://a.example/1", "https://a.example/2"],
    }
    url = "http://localhost/twilio/sms"
    from werkzeug.datastructures import MultiDict

    signature = RequestValidator(twilio.token).compute_signature(url, MultiDict(params))
    response = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/voice",
        "/twilio/voice/status",
        "/twilio/voice/fallback",
        "/twilio/sms",
        "/twilio/sms/status",
        "/twilio/voice/input?node=main_menu",
    ],
)
def test_every_twilio_url_refuses_a_missing_signature(client, path):
    assert client.post(path, data={"CallSid": "CA1"}).status_code == 403
