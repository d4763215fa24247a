"""Stored templates on the notifier's database: versions, locales, deletes, and the
in-memory store behaving the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.templating import (
    InMemoryStoredTemplates,
    PromptRenderer,
    RenderPool,
    SqlStoredTemplates,
    StoredTemplates,
)
from services.notifier.templating.samples import sample_context

pytestmark = pytest.mark.database

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sql", "memory"])
def store(
    request: pytest.FixtureRequest, sessions: async_sessionmaker[AsyncSession]
) -> StoredTemplates:
    if request.param == "memory":
        return InMemoryStoredTemplates()
    return SqlStoredTemplates(sessions)


async def _put(store: StoredTemplates, key: str, locale: str, body: str, now: datetime = T0) -> int:
    saved = await store.put(
        key, locale, "sms", subject=None, text_body=body, html_body=None, now=now
    )
    return saved.version


async def test_each_save_increments_the_version(store: StoredTemplates) -> None:
    assert await _put(store, "check_in", "es", "uno STOP") == 1
    assert await _put(store, "check_in", "es", "dos STOP", T0 + timedelta(hours=1)) == 2
    row = await store.get("check_in", "es", "sms")
    assert row is not None
    assert (row.text_body, row.version) == ("dos STOP", 2)
    assert row.updated_at == T0 + timedelta(hours=1)
    assert row.updated_at.tzinfo is not None
    assert await store.get("check_in", "es", "email") is None
    assert await store.get("check_in", "en", "sms") is None


async def test_email_parts_round_trip(store: StoredTemplates) -> None:
    saved = await store.put(
        "reach_out",
        "en-GB",
        "email",
        subject="Hi",
        text_body="Hello",
        html_body="<p>Hello</p>",
        now=T0,
    )
    assert (saved.subject, saved.html_body, saved.version) == ("Hi", "<p>Hello</p>", 1)
    assert await store.get("reach_out", "en-GB", "email") == saved


async def test_locales_are_stored_in_one_spelling(store: StoredTemplates) -> None:
    await _put(store, "check_in", "es_mx", "a STOP")
    assert await _put(store, "check_in", "ES-MX", "b STOP") == 2
    row = await store.get("check_in", "es-MX", "sms")
    assert row is not None
    assert row.locale == "es-MX"


async def test_list_is_ordered_and_delete_returns_to_nothing(store: StoredTemplates) -> None:
    await _put(store, "reach_out", "es", "x STOP")
    await _put(store, "check_in", "es", "y STOP")
    await _put(store, "check_in", "en", "z STOP")
    listed = [(row.key, row.locale, row.channel, row.version) for row in await store.list()]
    assert listed == [
        ("check_in", "en", "sms", 1),
        ("check_in", "es", "sms", 1),
        ("reach_out", "es", "sms", 1),
    ]
    assert await store.delete("check_in", "es", "sms") is True
    assert await store.delete("check_in", "es", "sms") is False
    assert await store.get("check_in", "es", "sms") is None
    # Saved again after a delete: a new history.
    assert await _put(store, "check_in", "es", "w STOP") == 1


async def test_concurrent_saves_get_distinct_versions(store: StoredTemplates) -> None:
    versions = await asyncio.gather(
        *(_put(store, "gratitude", "en", f"v{n} STOP") for n in range(5))
    )
    assert sorted(versions) == [1, 2, 3, 4, 5]
    row = await store.get("gratitude", "en", "sms")
    assert row is not None
    assert row.version == 5


async def test_a_stored_template_overrides_the_packaged_one(
    store: StoredTemplates, render_pool: RenderPool
) -> None:
    renderer = PromptRenderer(store, pool=render_pool)
    ctx = sample_context("gratitude", "es-MX")
    packaged = await renderer.render_sms("gratitude", ctx)
    assert packaged.text.startswith("Ritual de esta semana")
    await _put(store, "gratitude", "es", "Gracias por estar. Responde STOP para salir.")
    stored = await renderer.render_sms("gratitude", ctx)
    assert stored.text == "Gracias por estar. Responde STOP para salir."
    await store.delete("gratitude", "es", "sms")
    assert (await renderer.render_sms("gratitude", ctx)) == packaged


async def test_a_burst_of_lookups_sends_one_query_and_a_save_is_never_shadowed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A batch renders hundreds of prompts at once: with the entry cold they share one
    query; a save made while that query is under way is what the next lookup sees."""
    store = SqlStoredTemplates(sessions, cache_ttl_s=0.0)  # every answer stale at once
    queries = 0
    engine = sessions.kw["bind"].sync_engine

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal queries
        queries += "FROM prompt_templates" in statement

    event.listen(engine, "before_cursor_execute", count)
    try:
        found = await asyncio.gather(*(store.get("check_in", "en", "sms") for _ in range(200)))
        assert found == [None] * 200
        assert queries == 1

        burst = [asyncio.create_task(store.get("check_in", "en", "sms")) for _ in range(50)]
        await asyncio.sleep(0)  # the lookup is under way ...
        await _put(store, "check_in", "en", "Saved while looking")  # ... when a save lands
        await asyncio.gather(*burst)
        latest = await store.get("check_in", "en", "sms")
        assert latest is not None
        assert latest.text_body == "Saved while looking"
    finally:
        event.remove(engine, "before_cursor_execute", count)
