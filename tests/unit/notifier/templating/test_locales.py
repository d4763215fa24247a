"""Which template a member gets: stored before packaged, locale by locale, es-MX -> es -> en."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.notifier.templating import (
    InMemoryStoredTemplates,
    Origin,
    PromptRenderer,
    RenderPool,
)
from services.notifier.templating.packaged import PackagedTemplates
from services.notifier.templating.samples import sample_context
from tests.unit.notifier.templating.conftest import NOW


def _packaged(root: Path, *locales: str) -> PackagedTemplates:
    for locale in locales:
        directory = root / "ritual" / locale
        directory.mkdir(parents=True)
        (directory / "sms.txt").write_text(f"packaged {locale} {{{{ locale }}}} STOP\n")
    return PackagedTemplates(root)


async def _store(*locales: str) -> InMemoryStoredTemplates:
    store = InMemoryStoredTemplates()
    for locale in locales:
        await store.put(
            "ritual",
            locale,
            "sms",
            subject=None,
            text_body=f"stored {locale} {{{{ locale }}}} STOP",
            html_body=None,
            now=NOW,
        )
    return store


async def _text(renderer: PromptRenderer, locale: str) -> str:
    return (await renderer.render_sms("ritual", sample_context("ritual", locale))).text


@pytest.mark.parametrize(
    ("stored", "packaged", "member", "expected"),
    [
        # Stored: es-MX, then es, then en.
        (("es-MX", "es", "en"), (), "es-MX", "stored es-MX es-MX"),
        (("es", "en"), (), "es-MX", "stored es es-MX"),
        (("en",), (), "es-MX", "stored en en"),
        # Packaged likewise.
        ((), ("es-MX", "es", "en"), "es-MX", "packaged es-MX es-MX"),
        ((), ("es", "en"), "es-MX", "packaged es es-MX"),
        ((), ("en",), "es-MX", "packaged en en"),
        # A stored copy wins over the packaged one at the same locale…
        (("es",), ("es", "en"), "es-MX", "stored es es-MX"),
        (("es-MX",), ("es-MX",), "es-MX", "stored es-MX es-MX"),
        # …but the member's language wins over an operator's copy in another language.
        (("en",), ("es", "en"), "es-MX", "packaged es es-MX"),
        (("es",), ("es-MX",), "es-MX", "packaged es-MX es-MX"),
        # Unknown languages read English.
        (("en",), ("es",), "fr-CA", "stored en en"),
    ],
)
async def test_fallback_order(
    tmp_path: Path,
    render_pool: RenderPool,
    stored: tuple[str, ...],
    packaged: tuple[str, ...],
    member: str,
    expected: str,
) -> None:
    renderer = PromptRenderer(
        await _store(*stored), packaged=_packaged(tmp_path, *packaged), pool=render_pool
    )
    assert (await _text(renderer, member)) == f"{expected} STOP"


async def test_resolution_says_where_the_template_came_from(
    tmp_path: Path, render_pool: RenderPool
) -> None:
    renderer = PromptRenderer(
        await _store("es"), packaged=_packaged(tmp_path, "en"), pool=render_pool
    )
    stored = await renderer.resolve("ritual", "es-MX", "sms")
    assert stored is not None
    assert (stored.origin, stored.locale, stored.version) == (Origin.stored, "es", 1)
    default = await renderer.resolve("ritual", "en-GB", "sms")
    assert default is not None
    assert (default.origin, default.locale, default.version) == (Origin.default, "en", None)
    assert await renderer.resolve("ritual", "en", "email") is None
    assert await renderer.resolve("other", "en", "sms") is None


async def test_locales_are_stored_and_found_in_one_spelling(
    tmp_path: Path, render_pool: RenderPool
) -> None:
    store = await _store("es_mx")
    assert [row.locale for row in await store.list()] == ["es-MX"]
    renderer = PromptRenderer(store, packaged=_packaged(tmp_path), pool=render_pool)
    # (the body still says how it was written: "es_mx")
    assert await _text(renderer, "ES-mx") == "stored es_mx es-MX STOP"


async def test_the_packaged_defaults_fall_back_the_same_way(renderer: PromptRenderer) -> None:
    mexican = await renderer.render_sms("check_in", sample_context("check_in", "es-MX"))
    assert mexican.text.startswith("Check-in semanal")
    # es-MX dates from the es template: Mexican Spanish abbreviates September "sep".
    assert "sep," in mexican.text
    assert "sept" not in mexican.text
    french = await renderer.render_sms("check_in", sample_context("check_in", "fr"))
    assert french.text.startswith("Weekly check-in, open until Wed 29 Sep 09:00")
