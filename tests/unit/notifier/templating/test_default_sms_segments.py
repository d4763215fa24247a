"""Every default SMS fits the configured segment limit, in every locale, with worst-case values.

Worst case: a deadline on every weekday of every month (the longest day and month names), a
public base URL longer than most, a signed link as long as real ones, every module week,
prompt and reminders, every support focus. The segment count is the notifier's own
(``analyse_sms``), checked here against an independent count: UCS-2 as soon as one character is
outside GSM-7 (UTF-16 units, 70 alone or 67 a segment), else GSM-7 septets (160 or 153).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifier.domain.questionnaire import MODULES
from services.notifier.domain.sms_encoding import GSM7_BASIC, GSM7_EXTENSION
from services.notifier.handlers.compose import answer_url
from services.notifier.settings import NotifierSettings
from services.notifier.templating import InMemoryStoredTemplates, PromptContext, PromptRenderer
from services.notifier.templating.packaged import PackagedTemplates
from services.notifier.templating.samples import SAMPLE_LINK_ID, sample_context, sample_contexts
from services.notifier.templating.sources import is_service_key

LIMIT = NotifierSettings.model_fields["sms_max_segments"].default
WARN = NotifierSettings.model_fields["sms_warn_segments"].default
LONG_BASE_URL = "https://connection-rituals.riverside-neighbours.example.org.uk"
LOCALES = ("en", "en-GB", "es", "es-MX", "es-ES")
SMS_KEYS = sorted({key for key, _, channel in PackagedTemplates().entries() if channel == "sms"})


def _deadlines() -> Iterator[datetime]:
    """A deadline on each weekday of each month, late in the evening UTC (the member's zone
    may make it the next day)."""
    for month in range(1, 13):
        first = date(2027, month, 1)
        for day in range(7):
            yield datetime.combine(first + timedelta(days=day), datetime.min.time(), UTC).replace(
                hour=23, minute=45
            )


def _worst_cases(key: str, locale: str) -> Iterator[PromptContext]:
    nudges = (0,) if is_service_key(key) else (1, 2) if key.endswith("_nudge") else (0, 1)
    for ctx in sample_contexts(key, locale, nudges):
        link = f"{LONG_BASE_URL}/r/{SAMPLE_LINK_ID}"
        yield dataclasses.replace(
            ctx,
            answer_url=link if ctx.answer_url else None,
            unsubscribe_url=f"{LONG_BASE_URL}/u/{SAMPLE_LINK_ID}" if ctx.unsubscribe_url else None,
            option_urls={
                item: {
                    code: answer_url(LONG_BASE_URL, SAMPLE_LINK_ID, {item: code}) for code in urls
                }
                for item, urls in ctx.option_urls.items()
            },
        )
    if key.startswith("check_in"):
        # The deadline's words, in each module week in turn (every week is above).
        for position, deadline in enumerate(_deadlines()):
            module = position % len(MODULES)
            ctx = sample_context(key, locale, module=module, nudge_number=nudges[0])
            yield dataclasses.replace(
                ctx,
                respond_by=deadline,
                timezone="America/Argentina/Buenos_Aires" if "es" in locale else "Europe/London",
                answer_url=f"{LONG_BASE_URL}/r/{SAMPLE_LINK_ID}",
            )


def independent_segments(text: str) -> tuple[int, str]:
    """Segments and encoding counted without the notifier's code (a lower bound: the notifier
    also keeps an escape or surrogate pair whole, which can cost one more segment)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single, per_segment, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, per_segment, encoding = 70, 67, "UCS-2"
    return (1 if units <= single else math.ceil(units / per_segment)), encoding


@pytest.fixture
async def configured_renderer() -> AsyncIterator[PromptRenderer]:
    renderer = PromptRenderer(
        InMemoryStoredTemplates(), sms_warn_segments=WARN, sms_max_segments=LIMIT
    )
    yield renderer
    await renderer.close()


def test_the_limit_is_the_notifiers_setting() -> None:
    assert (WARN, LIMIT) == (2, 6)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("key", SMS_KEYS)
async def test_every_default_sms_fits_the_segment_limit_in_the_worst_case(
    configured_renderer: PromptRenderer, key: str, locale: str
) -> None:
    send_key = key.removesuffix("_nudge")
    worst = 0
    rendered = 0
    for ctx in _worst_cases(key, locale):
        template, as_reminder = await configured_renderer.template_for(send_key, ctx, "sms")
        sms = await configured_renderer.render_sms_source(template, ctx, as_reminder=as_reminder)
        segments, encoding = independent_segments(sms.text)
        assert sms.encoding == encoding, sms.text
        assert segments <= sms.segments <= segments + 1, sms.text
        assert sms.segments <= LIMIT, sms.text
        worst = max(worst, sms.segments)
        rendered += 1
    assert rendered >= 2
    # Only the check-in, with its link to the answer form, goes past the warning threshold,
    # and by one segment.
    assert worst <= (WARN + 1 if key == "check_in" else WARN)


def test_the_independent_count_knows_the_boundaries() -> None:
    assert independent_segments("a" * 160) == (1, "GSM-7")
    assert independent_segments("a" * 161) == (2, "GSM-7")
    assert independent_segments("€" * 80) == (1, "GSM-7")  # two septets each
    assert independent_segments("á" * 70) == (1, "UCS-2")
    assert independent_segments("á" * 71) == (2, "UCS-2")
    assert independent_segments("é" * 160) == (1, "GSM-7")  # é is GSM-7, á is not
