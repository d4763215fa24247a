"""The preferences page's way in: a signed link in every e-mail (text and HTML, in the member's
language, also for a nudge), the SMS keyword PREFS, and the page's notice colours."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from services.notifier.api.member_pages import _STYLE
from services.notifier.api.preferences_text import _TEXT, page_language
from services.notifier.domain.keywords import (
    PREFERENCES_KEYWORDS,
    InboundKind,
    InboundSms,
    classify_inbound_sms,
)
from services.notifier.handlers.compose import PREFERENCES_PURPOSE
from services.notifier.handlers.use_cases.preferences import (
    InvalidPreferences,
    check_quiet_hours,
    parse_local_time,
)
from shared.contracts import RitualKind
from tests.unit.notifier.test_compose import NOW, SIGNER, _parts, _token, compose

PREFERENCES = re.compile(r"https://rituals\.example/p/[A-Za-z0-9_.-]+")
# Every code InvalidPreferences is raised with (handlers/use_cases/preferences, api/preferences).
ERROR_CODES = (
    "start_time",
    "end_time",
    "quiet_half",
    "quiet_same",
    "no_phone",
    "no_email",
    "language",
    "unknown_ritual",
    "ritual_choice",
    "channel",
)


@pytest.mark.parametrize(("locale", "words"), [("en-GB", "Pause"), ("es", "Pausar")])
@pytest.mark.parametrize("nudge_number", [0, 1])
async def test_every_email_links_the_members_preferences_page(
    locale: str, words: str, nudge_number: int
) -> None:
    text, html = _parts(await compose(locale=locale, nudge_number=nudge_number))
    (link,) = set(PREFERENCES.findall(text))
    assert link in html
    assert words in text
    token = _token(link)
    assert SIGNER.verify(token, PREFERENCES_PURPOSE, NOW) == "mbr_AbCdEfGhIjKlMnOp"
    # Valid for the unsubscribe link's 400 days, then expired.
    SIGNER.verify(token, PREFERENCES_PURPOSE, NOW + timedelta(days=399))
    with pytest.raises(ValueError, match="expired"):
        SIGNER.verify(token, PREFERENCES_PURPOSE, NOW + timedelta(days=401))


@pytest.mark.parametrize("keyword", sorted(PREFERENCES_KEYWORDS))
def test_the_preferences_keyword_alone_asks_for_the_link(keyword: str) -> None:
    for body in (keyword, keyword.lower(), f" {keyword.title()}! "):
        assert classify_inbound_sms(body) == InboundSms(InboundKind.PREFERENCES, keyword=keyword)


def test_prefs_inside_a_sentence_is_free_text() -> None:
    assert classify_inbound_sms("my prefs are fine").kind is InboundKind.FREE_TEXT


@pytest.mark.parametrize(
    ("text", "expected"),
    [("22:00", "22:00"), ("07:30:00", "07:30"), ("23:59", "23:59"), ("", None)],
)
def test_local_times_are_read_as_the_time_fields_send_them(text: str, expected: str | None) -> None:
    assert parse_local_time(text, "start") == expected


@pytest.mark.parametrize(("start", "end"), [("22:00", None), (None, "07:00"), ("07:00", "07:00")])
def test_half_or_empty_quiet_hours_are_refused(start: str | None, end: str | None) -> None:
    with pytest.raises(InvalidPreferences):
        check_quiet_hours(start, end)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("rule", ["saved", "error"])
def test_the_notices_contrast_at_least_7_to_1(rule: str) -> None:
    found = re.search(rf"\.{rule}{{background:(#[0-9a-f]{{6}});color:(#[0-9a-f]{{6}})", _STYLE)
    assert found is not None
    lighter, darker = sorted(map(_luminance, found.groups()), reverse=True)
    assert (lighter + 0.05) / (darker + 0.05) >= 7


def _contrast(one: str, other: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_every_coloured_box_keeps_its_text_at_7_to_1_and_the_focus_ring_visible() -> None:
    """Each rule with a background: its own text colour, or the browser's black when it sets
    none (the page sets no other), at WCAG AAA; the keyboard focus ring at 3:1 (non-text
    contrast) on white and on every background the page uses."""
    boxes = re.findall(r"([.\w-]+)\{background:(#[0-9a-f]{6})(?:;color:(#[0-9a-f]{6}))?", _STYLE)
    assert {name for name, _, _ in boxes} >= {".saved", ".error", ".support"}
    assert "color:" not in _STYLE.replace(";color:", "")  # no text colour outside the boxes
    for name, background, text in boxes:
        assert _contrast(background, text or "#000000") >= 7, name
    ring = re.search(r":focus-visible\{outline:\d+px solid (#[0-9a-f]{6})", _STYLE)
    assert ring is not None
    for background in ["#ffffff", *(background for _, background, _ in boxes)]:
        assert _contrast(ring.group(1), background) >= 3, background


def test_the_page_says_everything_in_both_languages_and_names_every_error() -> None:
    assert set(_TEXT["en"]) == set(_TEXT["es"])
    for code in ERROR_CODES:
        assert f"error.{code}" in _TEXT["en"], code
    assert {f"kind.{kind.value}" for kind in RitualKind} <= set(_TEXT["en"])
    assert page_language("es") == "es"
    assert page_language("fr") == "en"  # a language the page does not speak: English
