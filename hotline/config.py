"""Configuration: read from the environment once, in create_app, never at import time."""

from __future__ import annotations

import os
from pathlib import Path

#: Development credentials used when TWILIO_ACCOUNT_SID is not set. They are only good for the
#: project's own local telephony gateway (hotline.devgateway), which signs its webhooks with the
#: same token; signature checks stay on, there is no switch that disables them.
DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"
DEV_GATEWAY_URL = "http://127.0.0.1:5055"


class ConfigError(RuntimeError):
    """The environment describes a configuration the hotline cannot run with."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _positive(env: dict[str, str], name: str, default: int | None) -> int | None:
    """A whole number above zero: a database timeout of 0 would mean "wait forever"."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    value = _int(env, name, 0)
    if value <= 0:
        raise ConfigError(f"{name} must be a number of milliseconds above 0, got {raw!r}")
    return value


#: Optional tuning read from the environment when set (SMS rules, alerts, summaries, Twilio).
#: Types: int, float, a comma-separated list of ints, an int or "off"/"none" (None), or text.
#: Defaults live with each feature's frozen settings dataclass.
TUNING_VARIABLES: dict[str, str] = {
    # The one number policy for every outbound call and text (hotline.numberpolicy);
    # SMS_ALLOWED_COUNTRY_CODES is its older name, still read when the new one is not set.
    "OUTBOUND_ALLOWED_COUNTRY_CODES": "ints",
    "SMS_ALLOWED_COUNTRY_CODES": "ints",
    "CALL_DAILY_CAP_PER_NUMBER": "int",
    "CALL_DAILY_CAP_PER_LINE": "int",
    "SMS_DAILY_RESERVE_PER_LINE": "int",
    "SMS_DAILY_CAP_PER_NUMBER": "int",
    "SMS_DAILY_CAP_PER_STAFF_NUMBER": "int",
    "SMS_DAILY_CAP_PER_LINE": "int",
    "SMS_SEGMENTS_PER_SECOND": "float",
    "SMS_FROM_NUMBER": "text",
    "ALERT_LONG_WAIT_SECONDS": "int",
    "ALERT_SERVICE_LEVEL_TARGET": "float",
    "ALERT_WINDOW_SECONDS": "int",
    "ALERT_CLOCK_SILENT_SECONDS": "int",
    "REPORTS_SUMMARY_AT": "text",
    "TWILIO_HTTP_TIMEOUT_SECONDS": "float",
    "CALLBACK_CALLS_PER_SECOND": "float",
    "CALLBACK_RINGING_MARGIN": "int_or_off",
    "CALLBACK_LEASE_SECONDS": "int",
    "CALLBACK_BATCH_SIZE": "int",
    "CALLBACK_RING_TIMEOUT_SECONDS": "int",
    "CALLBACK_RECONCILE_MINUTES": "int",
    "WEBHOOK_EVENT_RETENTION_DAYS": "int",
    # Check-ins: minutes the volunteer has to reply before the 失联 case is escalated.
    "CHECKIN_VOLUNTEER_REPLY_MINUTES": "int",
}
#: Environment names that differ from the configuration key they set.
RENAMED_VARIABLES = {
    "HOTLINE_RETENTION_DAYS": ("CALLER_RETENTION_DAYS", "int"),
    "HOTLINE_CASE_AUTO_CLOSE_DAYS": ("CASE_AUTO_CLOSE_DAYS", "int"),
}


def _tuning(env: dict[str, str]) -> dict:
    values: dict = {}
    wanted = [(name, name, kind) for name, kind in TUNING_VARIABLES.items()]
    wanted += [(env_name, key, kind) for env_name, (key, kind) in RENAMED_VARIABLES.items()]
    for name, key, kind in wanted:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            if kind == "int":
                values[key] = int(raw)
            elif kind == "int_or_off":
                values[key] = None if raw.lower() in ("off", "none") else int(raw)
            elif kind == "float":
                values[key] = float(raw)
            elif kind == "ints":
                values[key] = tuple(int(part) for part in raw.split(",") if part.strip())
            else:
                values[key] = raw
        except ValueError as exc:
            raise ConfigError(f"{name} must be {kind}, got {raw!r}") from exc
    return values


def from_environment(instance_path: str, env: dict[str, str] | None = None) -> dict:
    """Build the configuration mapping from environment variables (names in README.md)."""
    env = dict(os.environ if env is None else env)
    default_db = "sqlite:///" + str(Path(instance_path) / "hotline.sqlite3")
    account_sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
    auth_token = env.get("TWILIO_AUTH_TOKEN", "").strip()
    if account_sid and not auth_token:
        raise ConfigError(
            "TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not: the hotline cannot verify "
            "Twilio's webhook signatures without it. Set TWILIO_AUTH_TOKEN."
        )
    local_telephony = not account_sid
    api_base = env.get("TWILIO_API_BASE_URL", "").strip() or (
        DEV_GATEWAY_URL if local_telephony else ""
    )
    database_url = env.get("DATABASE_URL", "").strip() or default_db
    # Heroku-style URLs name the old driver; SQLAlchemy 2 wants the psycopg 3 dialect.
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    secret_key = env.get("SECRET_KEY", "").strip()
    return {
        **_tuning(env),
        "SECRET_KEY": secret_key or None,
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": account_sid or DEV_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": auth_token or DEV_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": api_base or None,
        "LOCAL_TELEPHONY": local_telephony,
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "").strip().rstrip("/") or None,
        # Where the clock's callbacks point when PUBLIC_BASE_URL is unset (a local run:
        # `python3 dev.py run --port N` sets it to the web process's own address).
        "LOCAL_BASE_URL": env.get("LOCAL_BASE_URL", "").strip().rstrip("/")
        or "http://127.0.0.1:5000",
        "HOTLINE_TIMEZONE": env.get("HOTLINE_TIMEZONE", "").strip() or "Asia/Shanghai",
        "IVR_SCRIPTS_DIR": env.get("IVR_SCRIPTS_DIR", "").strip()
        or str(Path(__file__).resolve().parent.parent / "ivr_scripts"),
        # Fail a stalled database within 3 s, long before Twilio's 15 s webhook limit (db.py).
        "DB_STATEMENT_TIMEOUT_MS": _positive(env, "DB_STATEMENT_TIMEOUT_MS", 2000),
        # None: the statement timeout + 0.5 s (see make_engine).
        "DB_CLIENT_TIMEOUT_MS": _positive(env, "DB_CLIENT_TIMEOUT_MS", None),
        "FALLBACK_SPOOL_DIR": env.get("FALLBACK_SPOOL_DIR", "").strip()
        or str(Path(instance_path) / "spool"),
        "DEFAULT_REGION": env.get("HOTLINE_DEFAULT_REGION", "").strip() or "CN",
        # Answering in the browser (Twilio Voice JS SDK): an API key pair mints access tokens;
        # without it operators are joined by their own phone.
        "TWILIO_API_KEY_SID": env.get("TWILIO_API_KEY_SID", "").strip() or None,
        "TWILIO_API_KEY_SECRET": env.get("TWILIO_API_KEY_SECRET", "").strip() or None,
        "TWILIO_TWIML_APP_SID": env.get("TWILIO_TWIML_APP_SID", "").strip() or None,
        "TWILIO_VOICE_SDK_URL": env.get("TWILIO_VOICE_SDK_URL", "").strip() or None,
        # Running with the public development credentials needs this switch (see security.py).
        "HOTLINE_DEV_MODE": env.get("HOTLINE_DEV_MODE", "").strip() == "1",
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed.
        "TRUSTED_PROXY_COUNT": _int(env, "TRUSTED_PROXY_COUNT", 0),
    }
