"""Counting SMS segments the way carriers do (GSM 03.38 / 3GPP TS 23.040).

A text made only of GSM-7 characters travels in 7-bit septets: one segment holds 160, and a
concatenated message holds 153 per segment (the rest is the concatenation header). Characters of
the extension table (€, [, ], {, }, ~, ^, |, \\ and form feed) take two septets and are never
split across segments. Any other character (every Chinese character) switches the whole text to
UCS-2: 70 code units in one segment, 67 per segment when concatenated; a character outside the
Basic Multilingual Plane (an emoji) takes two units and is not split either.

Feature phones show a multi-part text as several messages, often out of order, so our texts aim
for one segment; `segment_count` is what tests and the text renderers check against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: The GSM 03.38 basic character set (without the escape character itself).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the extension table: sent as escape + character, two septets each.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels: its encoding, its length in septets or code units, its segments."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int
    segments: int

    @property
    def single_segment_limit(self) -> int:
        return GSM7_SINGLE if self.encoding == "GSM-7" else UCS2_SINGLE


def is_gsm7(text: str) -> bool:
    """True when every character of `text` exists in the GSM-7 alphabet (basic or extension)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _char_units(text: str, encoding: str) -> list[int]:
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(sizes: list[int], capacity: int) -> int:
    """Segments needed when no character may be split across two segments."""
    segments, used = 1, 0
    for size in sizes:
        if used + size > capacity:
            segments += 1
            used = 0
        used += size
    return segments


def segment_info(text: str) -> SegmentInfo:
    """Encoding, length and number of segments of `text`."""
    encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    sizes = _char_units(text, encoding)
    units = sum(sizes)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_MULTI)
    if units == 0:
        return SegmentInfo(encoding, 0, 1)
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    return SegmentInfo(encoding, units, _pack(sizes, multi))


def segment_count(text: str) -> int:
    """Number of SMS segments `text` is sent as."""
    return segment_info(text).segments


def fit_part(build: Callable[[str], str], part: str, *, segments: int = 1) -> str:
    """`build(part)`, with `part` shortened (ending in "…") until the whole text fits.

    Used for the one free-text part of a message (an operator's referral note, a caller's name):
    the fixed parts of every text are written to fit, and only this part gives way. When even an
    empty part does not fit, the text is returned with the part left out.
    """
    text = build(part)
    if segment_count(text) <= segments:
        return text
    for cut in range(len(part) - 1, 0, -1):
        text = build(part[:cut] + "…")
        if segment_count(text) <= segments:
            return text
    return build("")
