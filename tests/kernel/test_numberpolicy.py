"""The number policy: what the hotline may call or text (toll fraud protection)."""

from __future__ import annotations

import pytest

from hotline.numberpolicy import NumberPolicy

CHINA_ONLY = NumberPolicy()


@pytest.mark.parametrize(
    ("number", "reason_contains"),
    [
        ("+442071838750", "country code +44 is not allowed"),
        ("+2348031234567", "country code +234 is not allowed"),
        ("+14155550100", "country code +1 is not allowed"),
        ("+9611234567", "country code +961 is not allowed"),
        ("+881612345678", "satellite"),
        ("+8821612345678", "satellite"),
        ("+864001234567", "shared-cost number"),
        ("+8610123456789", "not a valid number"),
        ("13800000001", "not an E.164 number"),
        ("", "no number"),
        (None, "no number"),
        ("+86abc", "not a phone number"),
    ],
)
def test_refused_numbers_say_why(number, reason_contains):
    reason = CHINA_ONLY.refusal(number)
    assert reason is not None and reason_contains in reason
    assert not CHINA_ONLY.allows(number)


@pytest.mark.parametrize("number", ["+8613800000001", "+861012345678", "+8617012345678"])
def test_chinese_mobiles_and_landlines_are_allowed(number):
    assert CHINA_ONLY.refusal(number) is None


def test_a_browser_identity_is_not_a_phone_number_and_passes():
    assert CHINA_ONLY.allows("client:operator-7")


def test_satellite_stays_refused_even_when_its_code_is_allowed():
    policy = NumberPolicy(allowed_country_codes=(86, 881, 882))
    assert "satellite" in policy.refusal("+881612345678")


def test_other_countries_can_be_allowed_explicitly():
    policy = NumberPolicy(allowed_country_codes=(86, 852))
    assert policy.allows("+85291234567")
    assert not policy.allows("+442071838750")


def test_policy_from_config_falls_back_to_the_sms_list():
    assert NumberPolicy.from_config(
        {"SMS_ALLOWED_COUNTRY_CODES": (86, 852)}
    ).allowed_country_codes == (86, 852)
    assert NumberPolicy.from_config(
        {"OUTBOUND_ALLOWED_COUNTRY_CODES": (853,)}
    ).allowed_country_codes == (853,)
