"""The alerts feature's settings: one frozen dataclass read from the app's configuration."""

from __future__ import annotations

import dataclasses
from datetime import time

import pytest

from hotline.alerts.settings import AlertSettings


def test_defaults_apply_to_keys_absent_or_none():
    settings = AlertSettings.from_config({"ALERT_LONG_WAIT_SECONDS": None})
    assert settings == AlertSettings()
    assert settings.long_wait_seconds == 300
    assert settings.summary_time("main") == time(20, 30)


def test_configured_values_are_typed_and_per_line_summary_times_win():
    settings = AlertSettings.from_config(
        {
            "ALERT_WINDOW_SECONDS": "600",
            "ALERT_SERVICE_LEVEL_TARGET": "0.9",
            "REPORTS_SUMMARY_AT": "21:00",
            "REPORTS_SUMMARY_AT_BY_LINE": {"main": "18:15"},
        }
    )
    assert settings.window_seconds == 600
    assert settings.service_level_target == 0.9
    assert settings.summary_time("main") == time(18, 15)
    assert settings.summary_time("other") == time(21, 0)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        AlertSettings().window_seconds = 1  # type: ignore[misc]
