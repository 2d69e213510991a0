"""No fail-open development credentials (issue 12, item 3): without real Twilio credentials the
app refuses to start unless development mode is switched on, and the demo accounts with public
passwords are never created beside real credentials."""

from __future__ import annotations

import pytest

from hotline import create_app
from hotline.config import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, ConfigError
from hotline.db import db


@pytest.fixture
def no_twilio_env(monkeypatch):
    """An environment like a fresh production server's: no Twilio variables, no dev switch."""
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "HOTLINE_DEV_MODE"):
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path, **extra) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "x",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'creds.sqlite3'}",
        **extra,
    }


def test_without_credentials_the_app_refuses_to_start(no_twilio_env, tmp_path):
    with pytest.raises(ConfigError, match="HOTLINE_DEV_MODE"):
        create_app(_config(tmp_path))


def test_the_public_development_token_is_refused_even_beside_a_real_looking_sid(
    no_twilio_env, tmp_path
):
    with pytest.raises(ConfigError):
        create_app(_config(tmp_path, TWILIO_ACCOUNT_SID="AC" + "2" * 32))
    with pytest.raises(ConfigError):
        create_app(_config(tmp_path, TWILIO_AUTH_TOKEN="a-real-token", LOCAL_TELEPHONY=False))
    config = _config(tmp_path, TWILIO_ACCOUNT_SID=DEV_ACCOUNT_SID, TWILIO_AUTH_TOKEN="t" * 20)
    with pytest.raises(ConfigError):
        create_app(config)


def test_the_environment_switch_allows_development(no_twilio_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOTLINE_DEV_MODE", "1")
    application = create_app(_config(tmp_path))
    assert application.config["TWILIO_AUTH_TOKEN"] == DEV_AUTH_TOKEN
    with application.app_context():
        db.engine.dispose()


def test_only_the_exact_switch_value_counts(no_twilio_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOTLINE_DEV_MODE", "yes please")
    with pytest.raises(ConfigError):
        create_app(_config(tmp_path))


def test_seed_demo_refuses_beside_real_credentials(app, runner):
    """The test app has real-looking credentials (the suite's own token)."""
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "refusing" in result.output
    from hotline.operators.models import Operator

    with app.app_context():
        assert db.session.query(Operator).count() == 0


def test_seed_demo_works_in_development(app, make_app):
    """`app` first: its teardown empties the tables on the PostgreSQL suite."""
    application = make_app(
        TWILIO_ACCOUNT_SID=DEV_ACCOUNT_SID, TWILIO_AUTH_TOKEN=DEV_AUTH_TOKEN, HOTLINE_DEV_MODE=True
    )
    with application.app_context():
        db.create_all()
    result = application.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin-demo-pass" in result.output
