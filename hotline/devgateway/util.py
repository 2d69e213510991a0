"""Small pure helpers: Twilio-style SIDs, dates, phone numbers and SMS segments."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

#: E.164: a plus, a non-zero country code digit, up to 15 digits in all.
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")

#: The GSM 03.38 basic character set (plus the escape-table characters counted twice).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def new_sid(prefix: str) -> str:
    """A fresh SID with Twilio's two-letter prefix and 32 lowercase hex digits."""
    return prefix + uuid.uuid4().hex


def rfc2822(epoch_seconds: float | None) -> str | None:
    """Format a timestamp the way Twilio's 2010 API does (`Tue, 31 Aug 2010 20:36:28 +0000`)."""
    if epoch_seconds is None:
        return None
    return format_datetime(datetime.fromtimestamp(epoch_seconds, UTC).replace(microsecond=0))


def iso8601(epoch_seconds: float | None) -> str | None:
    """Format a timestamp as ISO 8601 UTC (for the gateway's own JSON API)."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")


def is_e164(number: str) -> bool:
    """True for a phone number in E.164 form (`+8613123456701`)."""
    return bool(_E164.match(number or ""))


def is_client(address: str) -> bool:
    """True for a Twilio Client address (`client:alice`)."""
    return (address or "").startswith("client:") and len(address) > len("client:")


def sms_segments(body: str) -> int:
    """How many SMS segments `body` needs: 160/153 GSM-7 characters or 70/67 UCS-2 ones."""
    if not body:
        return 1
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        length = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        return 1 if length <= 160 else -(-length // 153)
    # UCS-2 counts UTF-16 code units: characters outside the BMP (emoji) take two.
    length = len(body.encode("utf-16-le")) // 2
    return 1 if length <= 70 else -(-length // 67)


def parse_bool(value: str | None, *, default: bool) -> bool:
    """Read a TwiML or REST boolean (`true`/`false`, case-insensitive)."""
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "1", "yes")


def parse_number(value: str | None, *, default: float, minimum: float = 0.0) -> float:
    """Read a numeric attribute leniently, as Twilio does; bad values give the default."""
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        return default
    return max(minimum, number)


#: Generated recordings: 8 kHz (the telephone's rate), 16-bit, as long as the recording but at
#: most this long (a dev recording is a stand-in: 10 minutes of stereo is 19 MB).
WAV_RATE = 8000
MAX_WAV_SECONDS = 600
#: The tones standing in for the two sides: the caller (first channel, 400 Hz) and the
#: hotline's side (second channel, 500 Hz); a mono recording is the caller's tone alone. Both
#: divide the rate, so one 80-sample period repeats exactly.
CALLER_HZ, OPERATOR_HZ = 400, 500
_PERIOD = 80


def tone_wav(seconds: int, channels: int = 1, *, downmix: bool = False) -> bytes:
    """A WAV standing in for a recording: `seconds` long (at least 1, at most MAX_WAV_SECONDS)
    of a quiet tone per channel (CALLER_HZ; with two channels, OPERATOR_HZ on the second, as
    Twilio's dual-channel recordings keep the caller and everyone else apart). `downmix`: one
    channel holding both sides' tones (a dual-channel recording asked for in mono)."""
    import io
    import math
    import struct
    import wave

    def sample(hz: int, n: int) -> int:
        return int(3000 * math.sin(2 * math.pi * hz * n / WAV_RATE))

    tones = (CALLER_HZ, OPERATOR_HZ)[: 2 if channels == 2 else 1]
    if downmix:
        period = b"".join(
            struct.pack("<h", (sample(CALLER_HZ, n) + sample(OPERATOR_HZ, n)) // 2)
            for n in range(_PERIOD)
        )
    else:
        period = b"".join(struct.pack("<h", sample(hz, n)) for n in range(_PERIOD) for hz in tones)
    frames = WAV_RATE * max(1, min(int(seconds), MAX_WAV_SECONDS))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(len(tones))
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(period * (frames // _PERIOD))
    return buffer.getvalue()
