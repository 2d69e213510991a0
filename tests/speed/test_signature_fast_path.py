"""The signature check tries the URL as Twilio signs it first (issue 16) and still accepts
everything the SDK's validate() accepts, the port variant included, and nothing else."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from conftest import TEST_AUTH_TOKEN


def _post(twilio, base: str, token: str = TEST_AUTH_TOKEN):
    params = twilio.call_params(twilio.new_call_sid(), from_="+8613800000021")
    signature = RequestValidator(token).compute_signature(base + "/twilio/voice", params)
    return twilio.post("/twilio/voice", params, signature=signature, check=False)


def test_signed_without_a_port_is_accepted(twilio):
    assert _post(twilio, "http://localhost").status_code == 200


def test_signed_with_the_default_port_is_still_accepted(twilio):
    assert _post(twilio, "http://localhost:80").status_code == 200


def test_a_wrong_signature_is_refused(twilio):
    assert _post(twilio, "http://localhost", token="not-the-token").status_code == 403
    assert _post(twilio, "http://localhost:8080").status_code == 403
