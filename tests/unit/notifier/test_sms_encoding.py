from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    analyse_sms,
)

RIGHT_QUOTE = "\u2019"
EXTENSION_CHARS = ["€", "[", "]", "{", "}", "~", "^", "|", "\\", "\f"]


def test_the_alphabet_tables_match_the_standard() -> None:
    # 128 code points minus the escape in the basic table; 10 characters behind the escape.
    assert len(GSM7_BASIC) == 127
    assert frozenset(EXTENSION_CHARS) == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC


def test_plain_text_is_gsm7_one_septet_per_character() -> None:
    analysis = analyse_sms("How are you this week? Reply 1-5. @ £ $ ¥ è é Ä ñ ß ¿ § Δ Ω")
    assert analysis.encoding is SmsEncoding.GSM7
    assert analysis.units == len("How are you this week? Reply 1-5. @ £ $ ¥ è é Ä ñ ß ¿ § Δ Ω")
    assert analysis.segments == 1
    assert analysis.non_gsm_chars == ()


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_segment_boundaries(length: int, segments: int) -> None:
    analysis = analyse_sms("a" * length)
    assert (analysis.encoding, analysis.units, analysis.segments) == (
        SmsEncoding.GSM7,
        length,
        segments,
    )


@pytest.mark.parametrize("char", EXTENSION_CHARS)
def test_extension_characters_stay_gsm7_but_count_two_septets(char: str) -> None:
    analysis = analyse_sms(char)
    assert analysis.encoding is SmsEncoding.GSM7
    assert analysis.units == 2


def test_extension_characters_tip_a_message_over_160_septets() -> None:
    assert analyse_sms("a" * 158 + "€").segments == 1  # 160 septets
    overflowing = analyse_sms("a" * 159 + "€")  # 161 septets
    assert (overflowing.units, overflowing.segments) == (161, 2)


def test_an_escape_pair_is_not_split_across_segments() -> None:
    # 152 septets then a two-septet character: it cannot straddle the 153 boundary.
    straddling = analyse_sms("a" * 152 + "€" + "a" * 8)
    assert straddling.units == 162
    assert straddling.segments == 2
    # 152 + 2 + 152 = 306 septets would be 2 segments if split; it needs 3 when kept whole.
    assert analyse_sms("a" * 152 + "€" + "a" * 152).segments == 3


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segment_boundaries(length: int, segments: int) -> None:
    analysis = analyse_sms("ж" * length)
    assert (analysis.encoding, analysis.units, analysis.segments) == (
        SmsEncoding.UCS2,
        length,
        segments,
    )


def test_one_character_outside_the_alphabet_switches_the_whole_message_to_ucs2() -> None:
    analysis = analyse_sms("a" * 100 + RIGHT_QUOTE)  # a curly apostrophe from a word processor
    assert analysis.encoding is SmsEncoding.UCS2
    assert analysis.units == 101
    assert analysis.segments == 2
    assert analysis.non_gsm_chars == (RIGHT_QUOTE,)


def test_emoji_count_two_utf16_units() -> None:
    analysis = analyse_sms("Hi 👋")
    assert analysis.encoding is SmsEncoding.UCS2
    assert analysis.units == 5
    assert analysis.non_gsm_chars == ("👋",)
    assert analyse_sms("👋" * 35).segments == 1  # 70 units
    assert analyse_sms("👋" * 35 + "a").segments == 2  # 71 units


def test_a_surrogate_pair_is_not_split_across_segments() -> None:
    # 66 units then an emoji: it cannot straddle the 67 boundary.
    assert analyse_sms("a" * 66 + "👋" + "a" * 3).segments == 2
    assert analyse_sms("a" * 66 + "👋" + "a" * 66).segments == 3


def test_extension_characters_count_one_unit_in_ucs2() -> None:
    assert analyse_sms("€ж").units == 2


def test_non_gsm_characters_are_listed_once_in_order_of_appearance() -> None:
    text = f"ç {RIGHT_QUOTE} ç \u201cok\u201d"
    assert analyse_sms(text).non_gsm_chars == ("ç", RIGHT_QUOTE, "\u201c", "\u201d")


def test_lowercase_c_cedilla_is_not_in_the_basic_table() -> None:
    # 3GPP 23.038 has only the capital Ç; a lowercase ç forces UCS-2.
    assert analyse_sms("Ç").encoding is SmsEncoding.GSM7
    assert analyse_sms("ç").encoding is SmsEncoding.UCS2


def test_an_empty_text_needs_no_segment() -> None:
    analysis = analyse_sms("")
    assert (analysis.encoding, analysis.units, analysis.segments) == (SmsEncoding.GSM7, 0, 0)


@given(st.text())
def test_any_text_is_analysed_consistently(text: str) -> None:
    analysis = analyse_sms(text)
    if analysis.encoding is SmsEncoding.UCS2:
        assert analysis.units == len(text.encode("utf-16-le")) // 2
        assert analysis.non_gsm_chars
        single, per_segment = 70, 67
    else:
        assert analysis.units == len(text) + sum(c in GSM7_EXTENSION for c in text)
        single, per_segment = 160, 153
    if analysis.units <= single:
        assert analysis.segments == (1 if text else 0)
    else:
        # Never fewer than a perfect split; at most one unit lost per boundary.
        assert -(-analysis.units // per_segment) <= analysis.segments
        assert analysis.segments <= -(-analysis.units // (per_segment - 1))
