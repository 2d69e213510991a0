"""The SMS feature's settings: one frozen dataclass read from the app's configuration."""

from __future__ import annotations

import dataclasses

import pytest

from hotline.sms.settings import SmsSettings


def test_defaults_apply_to_keys_absent_or_none():
    assert SmsSettings.from_config({"SMS_MAX_ATTEMPTS": None}) == SmsSettings()
    assert SmsSettings().daily_reserve_per_line == 100
    assert SmsSettings().from_number is None


def test_configured_values_are_read_and_typed():
    settings = SmsSettings.from_config(
        {
            "SMS_DAILY_RESERVE_PER_LINE": "20",
            "SMS_DAILY_CAP_PER_NUMBER": "3",
            "SMS_SEGMENTS_PER_SECOND": 2,
            "SMS_FROM_NUMBER": "+861012345678",
            "UNRELATED": 1,
        }
    )
    assert settings.daily_reserve_per_line == 20
    assert settings.daily_cap_per_number == 3
    assert settings.segments_per_second == 2.0
    assert settings.from_number == "+861012345678"


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SmsSettings().batch_size = 1  # type: ignore[misc]
