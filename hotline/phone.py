"""Phone numbers: parsing into E.164 with phonenumbers, and masking for logs."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidNumber(ValueError):
    """A string that cannot be read as a phone number."""


def normalise(raw: str | None, region: str = "CN") -> str:
    """Return `raw` as an E.164 string ("+8613123456701").

    Accepts the ways people write numbers: "131 2345 6701", "+86 131-2345-6701",
    "0086 13123456701", "(010) 1234 5678". `client:` identities and SIP URIs from Twilio pass
    through unchanged because they are not phone numbers but are still valid callers.
    """
    if type(raw) is str and type(region) is str:
        number, problem = _normalised(raw, region)
    else:  # a str subclass or None: not cached
        number, problem = _normalise(raw, region)
    if problem is not None:
        raise InvalidNumber(problem)
    return number


#: Distinct numbers kept by normalise(): every incoming call normalises From and To, and the same
#: callers and lines come back all day (issue 16: phonenumbers' parse and format cost about
#: 30 µs a number). Bounded: about 200 bytes an entry.
NORMALISE_CACHE_SIZE = 4096


@lru_cache(maxsize=NORMALISE_CACHE_SIZE)
def _normalised(raw: str, region: str) -> tuple[str, str | None]:
    return _normalise(raw, region)


def _normalise(raw: str | None, region: str) -> tuple[str, str | None]:
    """(E.164, None), or ("", why not): the outcome is cached, the exception is not."""
    if raw is None or not raw.strip():
        return "", "empty number"
    text = raw.strip()
    if text.startswith(("client:", "sip:")):
        return text, None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "", f"not a phone number: {raw!r}"
    if not phonenumbers.is_possible_number(parsed):
        return "", f"not a possible phone number: {raw!r}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None


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
