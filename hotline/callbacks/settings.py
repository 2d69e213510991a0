"""Callback settings: read once from the app config (hotline.config reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallbackSettings:
    """How the dispatcher paces and guards outbound callbacks."""

    #: Outbound calls per second for the whole Twilio account, shared by every dispatcher
    #: (Twilio's default pacing is 1 per second). 0 turns the limit off (tests, load runs).
    calls_per_second: float = 1.0
    #: Callbacks ringing at once may exceed the available operators by this much; None turns
    #: the cap off. Kept small so an elder who answers reaches a person quickly.
    ringing_margin: int | None = 1
    #: A dispatcher owns a claimed callback this long; after that another may take it over.
    lease_seconds: int = 120
    #: Callbacks claimed per dispatcher run.
    batch_size: int = 10
    #: How long the phone rings: older people need time to reach it (Twilio's default is 60).
    ring_timeout_seconds: int = 40
    #: A placed call with no final status after this long is looked up at Twilio.
    reconcile_after_minutes: int = 15
    #: Daily caps on callback calls placed, counted in the line's local day: per number called
    #: and per line. A callback over a cap is not refused but deferred to the next day's
    #: calling window (it is a promise to a person; the cap only bounds what fraud can cost).
    call_daily_cap_per_number: int = 6
    call_daily_cap_per_line: int = 1000

    @classmethod
    def from_config(cls, config: Any) -> CallbackSettings:
        """Settings from a Flask config mapping (missing keys keep the defaults)."""
        defaults = cls()
        margin = config.get("CALLBACK_RINGING_MARGIN", defaults.ringing_margin)
        return cls(
            calls_per_second=float(
                config.get("CALLBACK_CALLS_PER_SECOND", defaults.calls_per_second)
            ),
            ringing_margin=None if margin is None else int(margin),
            lease_seconds=int(config.get("CALLBACK_LEASE_SECONDS", defaults.lease_seconds)),
            batch_size=int(config.get("CALLBACK_BATCH_SIZE", defaults.batch_size)),
            ring_timeout_seconds=int(
                config.get("CALLBACK_RING_TIMEOUT_SECONDS", defaults.ring_timeout_seconds)
            ),
            reconcile_after_minutes=int(
                config.get("CALLBACK_RECONCILE_MINUTES", defaults.reconcile_after_minutes)
            ),
            call_daily_cap_per_number=int(
                config.get("CALL_DAILY_CAP_PER_NUMBER") or defaults.call_daily_cap_per_number
            ),
            call_daily_cap_per_line=int(
                config.get("CALL_DAILY_CAP_PER_LINE") or defaults.call_daily_cap_per_line
            ),
        )
