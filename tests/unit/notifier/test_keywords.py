from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.notifier.domain.keywords import (
    HELP_KEYWORDS,
    NO_WORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    YES_WORDS,
    InboundKind,
    InboundSms,
    classify_inbound_sms,
)

RIGHT_QUOTE = "\u2019"  # what phones type for an apostrophe


def kind(body: str) -> InboundKind:
    return classify_inbound_sms(body).kind


@pytest.mark.parametrize("keyword", sorted(OPT_OUT_KEYWORDS))
@pytest.mark.parametrize("shape", ["{}", "  {}  ", "{}.", "{}!!", "*{}*", "'{}'", "\n{}\n"])
def test_every_opt_out_keyword_opts_out_in_any_case_and_punctuation(
    keyword: str, shape: str
) -> None:
    for variant in (keyword, keyword.lower(), keyword.title()):
        result = classify_inbound_sms(shape.format(variant))
        assert result == InboundSms(InboundKind.OPT_OUT, keyword=keyword)


@pytest.mark.parametrize(
    "body",
    [
        "Stop. Thank you",
        "stop please",
        "STOP!!! no more messages",
        "Stop, I moved away",
        "stop,please",
        "Unsubscribe me",
        "QUIT\nthanks",
        "stopall",
        "STOP ALL",
        "opt-out",
        "Opt out please",
        "OPT-OUT",
        "un-subscribe",
        "\uff33\uff34\uff2f\uff30",  # fullwidth STOP, from some phone keyboards
        f"stop{RIGHT_QUOTE}",
    ],
)
def test_a_first_word_keyword_opts_out_whatever_follows(body: str) -> None:
    assert kind(body) is InboundKind.OPT_OUT


@pytest.mark.parametrize(
    "body",
    [
        "don't stop",
        f"don{RIGHT_QUOTE}t stop",
        "I can't stop thinking about it",
        "Please stop",
        "Nonstop week",
        "stopping by later",
        "Ended up having a good week",
        "End-of-day check-ins suit me",
        "Endless rain here",
        "cancelled plans, feeling low",
        "Quite lonely",
        "Stop's closed, took the bus",
        "opt in",
        "opted out of the trip",
    ],
)
def test_a_keyword_that_is_not_the_first_word_does_not_opt_out(body: str) -> None:
    assert kind(body) is not InboundKind.OPT_OUT


@pytest.mark.parametrize("keyword", sorted(OPT_IN_KEYWORDS))
def test_opt_in_keywords_opt_in_alone(keyword: str) -> None:
    for body in (keyword, keyword.lower(), f" {keyword.title()}! "):
        assert classify_inbound_sms(body) == InboundSms(InboundKind.OPT_IN, keyword=keyword)


@pytest.mark.parametrize("body", ["Start of the week was hard", "start again please", "Started"])
def test_opting_back_in_needs_the_keyword_alone(body: str) -> None:
    assert kind(body) is InboundKind.FREE_TEXT


def test_yes_is_an_answer_not_an_opt_in() -> None:
    assert classify_inbound_sms("YES") == InboundSms(InboundKind.YES_NO, yes=True)


@pytest.mark.parametrize("keyword", sorted(HELP_KEYWORDS))
def test_help_keywords_ask_for_help(keyword: str) -> None:
    for body in (keyword, keyword.lower(), f"{keyword.title()}?", f"{keyword} me please"):
        assert classify_inbound_sms(body) == InboundSms(InboundKind.HELP, keyword=keyword)


def test_opt_out_wins_over_a_later_help() -> None:
    assert kind("STOP help") is InboundKind.OPT_OUT
    assert kind("help stop") is InboundKind.HELP


@pytest.mark.parametrize(
    ("body", "numbers"),
    [
        ("2", (2,)),
        (" 3 ", (3,)),
        ("2.", (2,)),
        ("5!", (5,)),
        ("(4)", (4,)),
        ("1 2 1", (1, 2, 1)),
        ("1,2,1", (1, 2, 1)),
        ("1, 2, 1", (1, 2, 1)),
        ("1;2", (1, 2)),
        ("10", (10,)),
        ("2 🙂", (2,)),
        ("2️⃣", (2,)),  # keycap emoji: digit, variation selector, combining keycap
        ("\uff13", (3,)),  # fullwidth 3
        ("٣", (3,)),  # Arabic-Indic digit
    ],
)
def test_numbers_are_answer_codes(body: str, numbers: tuple[int, ...]) -> None:
    assert classify_inbound_sms(body) == InboundSms(InboundKind.NUMBERS, numbers=numbers)


@pytest.mark.parametrize(
    "body",
    [
        "-1",
        "+2",
        "1-2",
        "2 or 3",
        "1.5",
        "07700 900123",  # a phone number is not a list of answers
        "+447700900123",
        "2027",
        "1 2 3 4 5 1 2 3 4 5 1",  # more answers than any check-in asks
        "I'd say 2",
    ],
)
def test_other_numbers_are_free_text(body: str) -> None:
    assert kind(body) is InboundKind.FREE_TEXT


@pytest.mark.parametrize("word", sorted(YES_WORDS | NO_WORDS))
def test_yes_and_no_are_boolean_answers(word: str) -> None:
    expected = InboundSms(InboundKind.YES_NO, yes=word in YES_WORDS)
    for body in (word, word.lower(), f"{word.title()}.", f" {word}! "):
        assert classify_inbound_sms(body) == expected


@pytest.mark.parametrize(
    "body", ["", "   ", "...", "🙂", "N/A", "yes please", "no, not really", "yeah", "Nope"]
)
def test_anything_else_is_free_text(body: str) -> None:
    assert kind(body) is InboundKind.FREE_TEXT


def test_a_result_carries_no_text_from_the_body() -> None:
    body = "Call me on +447700900123, I'm at jo@example.org"
    result = classify_inbound_sms(body)
    assert result.kind is InboundKind.FREE_TEXT
    assert "7700" not in repr(result)
    assert "example" not in repr(result)


@given(st.text())
def test_any_text_is_classified_without_raising(body: str) -> None:
    result = classify_inbound_sms(body)
    assert isinstance(result.kind, InboundKind)
    if result.kind in (InboundKind.OPT_OUT, InboundKind.OPT_IN, InboundKind.HELP):
        assert result.keyword is not None
    if result.kind is InboundKind.NUMBERS:
        assert result.numbers
    if result.kind is InboundKind.YES_NO:
        assert result.yes is not None


_LETTER_WORDS = st.text(st.characters(categories=["Ll", "Lu"]), min_size=1, max_size=12)
_SEPARATORS = st.sampled_from([" ", "  ", "\n", ". ", ", ", "! ", "? ", ": ", "\t"])


@given(first=_LETTER_WORDS, rest=st.text(), keyword=st.sampled_from(sorted(OPT_OUT_KEYWORDS)))
def test_only_a_first_word_keyword_opts_out(first: str, rest: str, keyword: str) -> None:
    # However many keywords follow, a first word that is not one keeps the member subscribed.
    as_read = unicodedata.normalize("NFKC", first).upper()
    assume(as_read not in OPT_OUT_KEYWORDS and as_read != "OPT")
    assert kind(f"{first} {keyword} {rest} {keyword}") is not InboundKind.OPT_OUT


@given(
    keyword=st.sampled_from(sorted(OPT_OUT_KEYWORDS)),
    casing=st.sampled_from([str.upper, str.lower, str.title]),
    separator=_SEPARATORS,
    rest=st.text(),
)
def test_a_first_word_keyword_always_opts_out(
    keyword: str, casing: Callable[[str], str], separator: str, rest: str
) -> None:
    body = f"{casing(keyword)}{separator}{rest}"
    assert classify_inbound_sms(body) == InboundSms(InboundKind.OPT_OUT, keyword=keyword)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("Baja", InboundKind.OPT_OUT),
        ("baja por favor", InboundKind.OPT_OUT),
        ("AYUDA", InboundKind.HELP),
    ],
)
def test_spanish_keywords(body: str, kind: InboundKind) -> None:
    assert classify_inbound_sms(body).kind is kind
