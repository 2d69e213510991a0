"""SMS settings: app.config keys with their defaults (alert and summary settings:
hotline.alerts.settings).

Deployments set them in the app configuration (for example from the environment in
hotline/config.py); `setting(name)` reads the configured value or the default here.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

DEFAULTS: dict[str, Any] = {
    # Calling codes texts may go to (China by default); anything else is refused.
    "SMS_ALLOWED_COUNTRY_CODES": (86,),
    # Daily caps, counted in the line's local day, refused texts not counted.
    "SMS_DAILY_CAP_PER_NUMBER": 8,
    "SMS_DAILY_CAP_PER_STAFF_NUMBER": 40,
    "SMS_DAILY_CAP_PER_LINE": 1000,
    # Pacing: Twilio sends about one segment per second per long code.
    "SMS_SEGMENTS_PER_SECOND": 1.0,
    "SMS_PACING_WINDOW_SECONDS": 10,
    # Transient failures are retried with a doubling pause, up to this many attempts.
    "SMS_MAX_ATTEMPTS": 5,
    "SMS_RETRY_BASE_SECONDS": 30,
    # A clock owns a claimed text for this long (then another clock may take it over).
    "SMS_LEASE_SECONDS": 120,
    # Texts claimed per sweep.
    "SMS_BATCH_SIZE": 50,
    # Sender number; None: the line's own number.
    "SMS_FROM_NUMBER": None,
    # A caller's free texts get at most one acknowledgement in this many minutes.
    "SMS_ACK_INTERVAL_MINUTES": 30,
}


def setting(name: str) -> Any:
    """The configured value of `name`, or its default."""
    value = current_app.config.get(name)
    return DEFAULTS[name] if value is None else value


def init_app(app) -> None:
    """Put the defaults into app.config (without overriding what is configured)."""
    for name, value in DEFAULTS.items():
        if app.config.get(name) is None:
            app.config[name] = value
