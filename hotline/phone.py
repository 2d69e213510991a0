"""Phone numbers: parsing into E.164 with phonenumbers, and masking for logs."""

from __future__ import annotations

import phonenumbers


class InvalidNumber(ValueError):
    """A string that cannot be read as a phone number."""


def normalise(raw: str | None, region: str = "CN") -> str:
    """Return `raw` as an E.164 string ("+8613123456701").

    Accepts the ways people write numbers: "131 2345 6701", "+86 131-2345-6701",
    "0086 13123456701", "(010) 1234 5678". `client:` identities and SIP URIs from Twilio pass
    through unchanged because they are not phone numbers but are still valid callers.
    """
    if raw is None or not raw.strip():
        raise InvalidNumber("empty number")
    text = raw.strip()
    if text.startswith(("client:", "sip:")):
        return text
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_normalise(raw: str | None, region: str = "CN") -> str | None:
    """Like normalise() but returns None for anything that is not a number."""
    try:
        return normalise(raw, region)
    except InvalidNumber:
        return None


def mask(number: str | None) -> str:
    """Mask a number for logs: keep the country code and last 4 digits (+86*******6701)."""
    if not number:
        return "-"
    if not number.startswith("+") or len(number) < 8:
        return number[:2] + "***"
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def country_code(number: str) -> int | None:
    """Return the calling code of an E.164 number (86 for China), or None."""
    try:
        return phonenumbers.parse(number, None).country_code
    except phonenumbers.NumberParseException:
        return None
