"""The alerts feature's settings: one frozen dataclass, read from app.config.

The keys (ALERT_*, REPORTS_SUMMARY_AT*) are the deployment's (hotline/config.py reads them from
the environment); a key that is absent or None takes the default here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from flask import current_app


@dataclass(frozen=True)
class AlertSettings:
    """Alert thresholds and the daily summary's local time."""

    #: A condition raises again no sooner than this after its previous episode was raised.
    window_seconds: int = 3600
    long_wait_seconds: int = 300
    service_level_target: float = 0.8
    service_level_min_calls: int = 5
    callback_failures: int = 3
    clock_silent_seconds: int = 300
    #: Daily summary: local time per line key, and the default for lines not listed.
    summary_at: str = "20:30"
    summary_at_by_line: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlertSettings:
        """The settings in `config` (an app.config), defaults for what is not set."""
        default = cls()

        def get(key: str, fallback: Any) -> Any:
            value = config.get(key)
            return fallback if value is None else value

        return cls(
            window_seconds=int(get("ALERT_WINDOW_SECONDS", default.window_seconds)),
            long_wait_seconds=int(get("ALERT_LONG_WAIT_SECONDS", default.long_wait_seconds)),
            service_level_target=float(
                get("ALERT_SERVICE_LEVEL_TARGET", default.service_level_target)
            ),
            service_level_min_calls=int(
                get("ALERT_SERVICE_LEVEL_MIN_CALLS", default.service_level_min_calls)
            ),
            callback_failures=int(get("ALERT_CALLBACK_FAILURES", default.callback_failures)),
            clock_silent_seconds=int(
                get("ALERT_CLOCK_SILENT_SECONDS", default.clock_silent_seconds)
            ),
            summary_at=str(get("REPORTS_SUMMARY_AT", default.summary_at)),
            summary_at_by_line=dict(get("REPORTS_SUMMARY_AT_BY_LINE", {})),
        )

    def summary_time(self, line_key: str) -> time:
        """Local time the line's summary goes out."""
        raw = self.summary_at_by_line.get(line_key) or self.summary_at
        hours, minutes = (int(part) for part in str(raw).split(":", 1))
        return time(hours, minutes)


def alert_settings() -> AlertSettings:
    """The current app's alert settings."""
    return AlertSettings.from_config(current_app.config)
