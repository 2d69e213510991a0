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


# The own HMAC-SHA1 (hotline.telephony.signature.compute_signature) against the SDK's.

import random  # noqa: E402

import pytest  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from hotline.telephony.signature import compute_signature, is_valid_twilio_request  # noqa: E402


def test_the_twilio_test_vector():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature(b"12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert compute_signature(b"12345", url, MultiDict(params)) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


_ALPHABET = "aB0+ &=%?#<>\"'你好王阿姨é\n"


def _random_form(rng: random.Random) -> MultiDict:
    form = MultiDict()
    for _ in range(rng.randrange(0, 8)):
        name = rng.choice(["CallSid", "From", "To", "Digits", "Body", "b", "a", "A", "名字", ""])
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            value = "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 6)))
            form.add(name, value)
    if form and rng.random() < 0.2:  # the same value twice: the SDK signs it once
        name = rng.choice(list(form.keys()))
        form.add(name, form.getlist(name)[0])
    return form


def test_the_own_signature_is_the_sdks_for_random_forms():
    rng = random.Random(16)
    sdk = RequestValidator(TEST_AUTH_TOKEN)
    for _ in range(500):
        form = _random_form(rng)
        url = rng.choice(
            ["http://localhost/twilio/voice", "https://h.example:8443/twilio/x?a=1&b=你", ""]
        )
        expected = sdk.compute_signature(url, form)
        assert compute_signature(TEST_AUTH_TOKEN.encode(), url, form) == expected
        assert compute_signature(TEST_AUTH_TOKEN.encode(), url, form.to_dict()) == (
            sdk.compute_signature(url, form.to_dict())
        )


_SIGNED_AS = [
    "http://localhost/twilio/voice",
    "http://localhost:80/twilio/voice",
    "http://localhost:8080/twilio/voice",
    "https://localhost/twilio/voice",
    "https://localhost:443/twilio/voice",
    "http://localhost/twilio/voice?",
    "http://localhost/twilio/voice/",
]
_REQUESTED = [
    ("http://localhost/twilio/voice", None),
    ("http://localhost:80/twilio/voice", None),
    ("http://localhost:8080/twilio/voice", None),
    ("https://localhost/twilio/voice", None),
    ("http://localhost/twilio/voice", "https://localhost"),
    ("http://localhost/twilio/voice", "https://localhost:443"),
]


@pytest.mark.parametrize(("requested", "public_base"), _REQUESTED)
def test_the_check_accepts_exactly_what_the_sdk_accepts(app, requested, public_base):
    """Every (URL signed, URL requested, token, form) pair: the guard and validate() agree."""
    rng = random.Random(requested + str(public_base))
    app.config["PUBLIC_BASE_URL"] = public_base
    try:
        for signed_as in _SIGNED_AS:
            for token in (TEST_AUTH_TOKEN, "another-token"):
                form = _random_form(rng)
                signature = RequestValidator(token).compute_signature(signed_as, form)
                for header in (signature, signature[:-2] + "A=", " " + signature):
                    with app.test_request_context(
                        requested,
                        base_url=None,
                        method="POST",
                        data=form,
                        headers={"X-Twilio-Signature": header},
                    ) as ctx:
                        url = (public_base + "/twilio/voice") if public_base else ctx.request.url
                        expected = RequestValidator(TEST_AUTH_TOKEN).validate(
                            url, ctx.request.form, header
                        )
                        assert is_valid_twilio_request(ctx.request) == expected, (
                            signed_as,
                            token,
                            header,
                        )
    finally:
        app.config["PUBLIC_BASE_URL"] = None


def test_an_unsigned_request_is_refused_on_every_twilio_url(app, client):
    urls = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/twilio")]
    assert len(urls) > 10
    for rule in urls:
        path = rule.replace("<int:", "<").split("<")[0] + ("1" if "<" in rule else "")
        assert client.post(path, data={"CallSid": "CA1"}).status_code == 403, rule
