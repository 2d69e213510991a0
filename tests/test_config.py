"""The environment is read once, by hotline.config; features read their frozen settings from
the app config (issue 11: one settings style)."""

from __future__ import annotations

import pytest

from hotline.callbacks.settings import CallbackSettings
from hotline.config import ConfigError, from_environment


def test_callback_tuning_comes_from_the_one_environment_read(tmp_path):
    config = from_environment(
        str(tmp_path),
        {
            "CALLBACK_CALLS_PER_SECOND": "0.5",
            "CALLBACK_RINGING_MARGIN": "off",
            "CALLBACK_LEASE_SECONDS": "90",
            "CALLBACK_RING_TIMEOUT_SECONDS": "45",
        },
    )
    settings = CallbackSettings.from_config(config)
    assert settings.calls_per_second == 0.5
    assert settings.ringing_margin is None
    assert settings.lease_seconds == 90 and settings.ring_timeout_seconds == 45
    assert settings.batch_size == CallbackSettings().batch_size  # unset: the default


def test_an_unreadable_callback_setting_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="CALLBACK_BATCH_SIZE"):
        from_environment(str(tmp_path), {"CALLBACK_BATCH_SIZE": "many"})


def test_the_app_reads_callback_tuning_from_the_environment(monkeypatch, tmp_path):
    from hotline import create_app

    monkeypatch.setenv("CALLBACK_RINGING_MARGIN", "3")
    monkeypatch.setenv("HOTLINE_DEV_MODE", "1")  # no Twilio credentials in this test
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
        }
    )
    assert CallbackSettings.from_config(app.config).ringing_margin == 3


def test_the_clocks_callbacks_point_at_the_local_web_process_dev_py_names(tmp_path):
    """`python3 dev.py run --port 5600` sets LOCAL_BASE_URL; the clock builds its callback URLs
    from it when there is no PUBLIC_BASE_URL (it used to be ignored: port 5000 whatever ran)."""
    from hotline import create_app
    from hotline.telephony.gateway import public_base_url

    assert from_environment(str(tmp_path), {})["LOCAL_BASE_URL"] == "http://127.0.0.1:5000"
    config = from_environment(str(tmp_path), {"LOCAL_BASE_URL": "http://127.0.0.1:5600/"})
    assert config["LOCAL_BASE_URL"] == "http://127.0.0.1:5600"
    app = create_app(
        {
            "TESTING": True,
            "HOTLINE_DEV_MODE": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
            "LOCAL_BASE_URL": config["LOCAL_BASE_URL"],
        }
    )
    with app.app_context():
        assert public_base_url() == "http://127.0.0.1:5600"
