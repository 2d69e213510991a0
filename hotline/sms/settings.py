"""The SMS feature's settings: one frozen dataclass, read from app.config (alert and summary
settings: hotline.alerts.settings).

Deployments set the SMS_* keys in the app configuration (hotline/config.py reads them from the
environment); a key that is absent or None takes the default here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from flask import current_app


@dataclass(frozen=True)
class SmsSettings:
    """Outbox rules, pacing, retries and replies. Each field is app.config["SMS_" + NAME]."""

    # Which countries and number types may be texted is the number policy's business
    # (hotline.numberpolicy, OUTBOUND_ALLOWED_COUNTRY_CODES), shared with outbound calls.
    #: Daily caps, counted in the line's local day, refused texts not counted.
    daily_cap_per_number: int = 8
    daily_cap_per_staff_number: int = 40
    daily_cap_per_line: int = 1000
    #: The last texts of the line's daily cap, kept for staff (supervisors, texts an operator
    #: wrote) and callers known before today: strangers cannot use up the whole cap.
    daily_reserve_per_line: int = 100
    #: Pacing: Twilio sends about one segment per second per long code.
    segments_per_second: float = 1.0
    pacing_window_seconds: int = 10
    #: Transient failures are retried with a doubling pause, up to this many attempts.
    max_attempts: int = 5
    retry_base_seconds: int = 30
    #: A clock owns a claimed text for this long (then another clock may take it over).
    lease_seconds: int = 120
    #: Texts claimed per sweep.
    batch_size: int = 50
    #: Sender number; None: the line's own number.
    from_number: str | None = None
    #: A caller's free texts get at most one acknowledgement in this many minutes.
    ack_interval_minutes: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmsSettings:
        """The settings in `config` (an app.config), defaults for what is not set."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            value = config.get("SMS_" + spec.name.upper())
            if value is None:
                continue
            if spec.name == "segments_per_second":
                value = float(value)
            elif spec.name != "from_number":
                value = int(value)
            values[spec.name] = value
        return cls(**values)


def sms_settings() -> SmsSettings:
    """The current app's SMS settings."""
    return SmsSettings.from_config(current_app.config)
