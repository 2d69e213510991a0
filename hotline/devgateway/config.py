"""Gateway configuration: an explicit mapping first, then environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

#: Development credentials, the same ones the hotline uses when TWILIO_ACCOUNT_SID is unset.
DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"

#: Who can call from the dev phone when nothing else is configured: (label, number).
DEFAULT_IDENTITIES: tuple[tuple[str, str], ...] = (
    ("王阿姨 (older caller with a profile)", "+8613123456701"),
    ("李先生 (family member)", "+8613123456702"),
    ("陌生号码 (unknown)", "+8613123456799"),
)


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway reads from its configuration, parsed once."""

    #: Base URL of the hotline web app; number webhooks go to this + the paths below.
    hotline_url: str = "http://127.0.0.1:5000"
    account_sid: str = DEV_ACCOUNT_SID
    auth_token: str = DEV_AUTH_TOKEN
    #: The gateway's own base URL (recording URLs, links on the developer page).
    public_url: str = "http://127.0.0.1:5055"
    #: Numbers that answer outbound calls by themselves after `auto_answer_delay` seconds.
    auto_answer_numbers: tuple[str, ...] = ()
    #: The hotline numbers (Twilio numbers) a dev phone can call or text.
    lines: tuple[str, ...] = ("+861012345678",)
    #: Demo identities on the dev phone: (label, number).
    identities: tuple[tuple[str, str], ...] = DEFAULT_IDENTITIES
    voice_path: str = "/twilio/voice"
    voice_fallback_path: str = "/twilio/voice/fallback"
    voice_status_path: str = "/twilio/voice/status"
    sms_path: str = "/twilio/sms"
    #: "real" (timers run on the wall clock, scaled) or "manual" (time moves only on request).
    clock: str = "real"
    #: Simulated seconds per real second in the real clock (2.0 runs timers twice as fast).
    time_scale: float = 1.0
    auto_answer_delay: float = 1.0
    #: A dev phone counts as registered this many real seconds after its last poll.
    phone_ttl: float = 3.0
    #: Seconds a webhook may take (Twilio: 15 s in all, 5 s to connect).
    webhook_timeout: float = 15.0
    webhook_connect_timeout: float = 5.0
    #: How long each loop of the default hold music lasts (simulated seconds).
    hold_music_seconds: float = 30.0
    #: Assumed length of a <Play> whose audio the gateway cannot measure.
    play_seconds: float = 3.0
    #: Documents a call may fetch back to back with no time passing before it counts as a loop.
    max_documents_without_progress: int = 40
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def voice_url(self) -> str:
        """Each line's Voice URL (A CALL COMES IN)."""
        return self.hotline_url + self.voice_path

    @property
    def voice_fallback_url(self) -> str:
        """Each line's voice Fallback URL."""
        return self.hotline_url + self.voice_fallback_path

    @property
    def voice_status_url(self) -> str:
        """Each line's call status callback URL."""
        return self.hotline_url + self.voice_status_path

    @property
    def sms_url(self) -> str:
        """Each line's messaging webhook (A MESSAGE COMES IN)."""
        return self.hotline_url + self.sms_path


def _numbers(raw: Any) -> tuple[str, ...]:
    """A comma-separated string or a sequence of numbers, trimmed, empties dropped."""
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(item.strip() for item in items if item and item.strip())


def _identities(raw: Any) -> tuple[tuple[str, str], ...]:
    """Identities as `label=number;label=number` or a sequence of (label, number) pairs."""
    if raw is None or raw == "":
        return DEFAULT_IDENTITIES
    if isinstance(raw, str):
        pairs = []
        for item in raw.split(";"):
            label, _, number = item.rpartition("=")
            if number.strip():
                pairs.append((label.strip() or number.strip(), number.strip()))
        return tuple(pairs) or DEFAULT_IDENTITIES
    return tuple((str(label), str(number)) for label, number in raw)


def load_config(
    overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> GatewayConfig:
    """Build the configuration: keys of `overrides`, else the environment, else the defaults.

    Keys and environment variables share their names: HOTLINE_URL, TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN, GATEWAY_PUBLIC_URL, AUTO_ANSWER_NUMBERS, LINES, and the gateway's own
    GATEWAY_CLOCK, GATEWAY_TIME_SCALE, AUTO_ANSWER_DELAY, PHONE_TTL, DEV_PHONE_IDENTITIES.
    """
    overrides = dict(overrides or {})
    env = dict(os.environ if env is None else env)

    def get(name: str, default: Any = None) -> Any:
        """One setting: the override, else a non-empty environment variable, else `default`."""
        if name in overrides and overrides[name] is not None:
            return overrides[name]
        value = env.get(name, "")
        return value.strip() if value.strip() else default

    defaults = GatewayConfig()
    account_sid = get("TWILIO_ACCOUNT_SID", defaults.account_sid)
    auth_token = get("TWILIO_AUTH_TOKEN", defaults.auth_token)
    return GatewayConfig(
        hotline_url=str(get("HOTLINE_URL", defaults.hotline_url)).rstrip("/"),
        account_sid=str(account_sid),
        auth_token=str(auth_token),
        public_url=str(get("GATEWAY_PUBLIC_URL", defaults.public_url)).rstrip("/"),
        auto_answer_numbers=_numbers(get("AUTO_ANSWER_NUMBERS", "")),
        lines=_numbers(get("LINES", ",".join(defaults.lines))) or defaults.lines,
        identities=_identities(get("DEV_PHONE_IDENTITIES")),
        voice_path=str(get("VOICE_PATH", defaults.voice_path)),
        voice_fallback_path=str(get("VOICE_FALLBACK_PATH", defaults.voice_fallback_path)),
        voice_status_path=str(get("VOICE_STATUS_PATH", defaults.voice_status_path)),
        sms_path=str(get("SMS_PATH", defaults.sms_path)),
        clock=str(get("GATEWAY_CLOCK", defaults.clock)).lower(),
        time_scale=float(get("GATEWAY_TIME_SCALE", defaults.time_scale)),
        auto_answer_delay=float(get("AUTO_ANSWER_DELAY", defaults.auto_answer_delay)),
        phone_ttl=float(get("PHONE_TTL", defaults.phone_ttl)),
        webhook_timeout=float(get("WEBHOOK_TIMEOUT", defaults.webhook_timeout)),
        webhook_connect_timeout=float(
            get("WEBHOOK_CONNECT_TIMEOUT", defaults.webhook_connect_timeout)
        ),
        hold_music_seconds=float(get("HOLD_MUSIC_SECONDS", defaults.hold_music_seconds)),
        play_seconds=float(get("PLAY_SECONDS", defaults.play_seconds)),
        max_documents_without_progress=int(
            get("MAX_DOCUMENTS_WITHOUT_PROGRESS", defaults.max_documents_without_progress)
        ),
        extra={k: v for k, v in overrides.items() if k not in _KNOWN_KEYS},
    )


_KNOWN_KEYS = {
    "HOTLINE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "GATEWAY_PUBLIC_URL",
    "AUTO_ANSWER_NUMBERS",
    "LINES",
    "DEV_PHONE_IDENTITIES",
    "VOICE_PATH",
    "VOICE_FALLBACK_PATH",
    "VOICE_STATUS_PATH",
    "SMS_PATH",
    "GATEWAY_CLOCK",
    "GATEWAY_TIME_SCALE",
    "AUTO_ANSWER_DELAY",
    "PHONE_TTL",
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_CONNECT_TIMEOUT",
    "HOLD_MUSIC_SECONDS",
    "PLAY_SECONDS",
    "MAX_DOCUMENTS_WITHOUT_PROGRESS",
}
