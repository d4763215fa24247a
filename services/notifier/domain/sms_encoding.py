"""How an SMS body will travel: GSM-7 or UCS-2, and how many segments it costs.

3GPP TS 23.038: a body made only of the GSM-7 default alphabet (plus its extension table, whose
characters take an escape septet and so count 2) is sent 7-bit, 160 septets in one message or
153 per segment once concatenated (the user-data header takes the rest). One character outside
forces the whole message to UCS-2: 70 UTF-16 code units alone, 67 per segment, and characters
beyond the Basic Multilingual Plane (most emoji) take two units.

Segments are packed the way handsets and Twilio do: an escape pair or a surrogate pair is never
split across two segments, so a boundary can leave one unit unused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The default alphabet in code-point order of the 3GPP table (0x1B, the escape, is not a
# character a text can contain, so it is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape septet: each costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE = 160
GSM7_PER_SEGMENT = 153
UCS2_SINGLE = 70
UCS2_PER_SEGMENT = 67


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsAnalysis:
    encoding: SmsEncoding
    units: int
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    segments: int
    non_gsm_chars: tuple[str, ...]
    """Distinct characters that forced UCS-2, in order of first appearance (empty for GSM-7)."""


def analyse_sms(text: str) -> SmsAnalysis:
    """Encoding, size and segment count of ``text`` exactly as given (no normalisation).

    Pure and total: any string is accepted. An empty text needs no segment (0).
    """
    non_gsm = tuple(dict.fromkeys(c for c in text if c not in _GSM7))
    if non_gsm:
        widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, per_segment, encoding = UCS2_SINGLE, UCS2_PER_SEGMENT, SmsEncoding.UCS2
    else:
        widths = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, per_segment, encoding = GSM7_SINGLE, GSM7_PER_SEGMENT, SmsEncoding.GSM7
    units = sum(widths)
    return SmsAnalysis(
        encoding=encoding,
        units=units,
        segments=_segments(widths, single, per_segment),
        non_gsm_chars=non_gsm,
    )


def _segments(widths: list[int], single: int, per_segment: int) -> int:
    if not widths:
        return 0
    if sum(widths) <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        # A two-unit character that does not fit whole starts the next segment.
        if used + width > per_segment:
            segments += 1
            used = 0
        used += width
    return segments
