"""Templates that get past the sandbox's checks (its operation budget loosened) and then take
too long or too much memory: refused over HTTP with a 422 that says why, while the service
keeps answering. The renderer is built from ``NotifierSettings`` as the service builds it
(``template_renderer``), with small deadlines and caps. What the sandbox refuses by itself is
in ``test_api``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.api import templates
from services.notifier.main import template_renderer
from services.notifier.settings import NotifierSettings
from services.notifier.templating import (
    InMemoryStoredTemplates,
    SqlStoredTemplates,
    StoredTemplate,
    StoredTemplates,
)
from shared.clock import ManualClock
from shared.http.health import health_router
from shared.settings import Environment

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SMS = "/v1/templates/reach_out/en/sms"
# Seconds of work per sample once the operation budget is loosened.
SLOW = (
    "{% for i in range(90) %}{% for j in range(20) %}"
    "{% if ('x' * 4000)|wordwrap(1)|length < 0 %}!{% endif %}"
    "{% endfor %}{% endfor %}"
)
# Some 55 MB of lists kept alive at once, once the operation budget is loosened: each is
# within the size limit, so only the worker's memory cap can stop them.
HUNGRY = "".join(f"{{%set a{n}=[0]*9999%}}" for n in range(700)) + "STOP"
UNBUDGETED = 10**12


@asynccontextmanager
async def _client(store: StoredTemplates, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    clock = ManualClock(T0)
    renderer, pool = template_renderer(
        NotifierSettings(environment=Environment.dev, **settings), store, clock
    )
    app = FastAPI()
    app.state.template_store = store
    app.state.templates = renderer
    app.state.clock = clock
    app.include_router(templates.router)
    app.include_router(health_router({}))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as http:
            yield http
    finally:
        await pool.close()


@pytest.fixture
def sql_store(sessions: async_sessionmaker[AsyncSession]) -> SqlStoredTemplates:
    return SqlStoredTemplates(sessions)


async def _refused(http: httpx.AsyncClient, body: str, reason: str) -> None:
    response = await http.put(SMS, json={"text_body": body})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("draft template reach_out/en/sms: ")
    assert re.search(reason, detail), detail
    assert (await http.get("/v1/templates")).json()["items"] == []


@pytest.mark.database
@pytest.mark.parametrize(
    ("body", "settings", "reason"),
    [
        pytest.param(
            SLOW,
            {"template_validation_timeout_s": 0.5},
            "took too long to render \\(more than 0.5 s\\)",
            id="slow",
        ),
        pytest.param(
            HUNGRY,
            {"template_worker_memory_mb": 32},
            "used too much memory",
            id="hungry",
        ),
    ],
)
async def test_refused_by_the_worker_past_the_sandbox(
    sql_store: SqlStoredTemplates, body: str, settings: dict[str, Any], reason: str
) -> None:
    async with _client(sql_store, template_max_operations=UNBUDGETED, **settings) as http:
        await _refused(http, body, reason)
        # The worker was replaced: the next save renders.
        accepted = await http.put(SMS, json={"text_body": "Hi {{ kind }}. STOP"})
        assert accepted.status_code == 200, accepted.text


class _SaysWhenValidationRenders:
    """An in-memory store that says when a save has looked up the ``_nudge`` template, the
    last thing validation does before rendering the sample contexts."""

    def __init__(self) -> None:
        self._rows = InMemoryStoredTemplates()
        self.rendering_next = asyncio.Event()
        self.put = self._rows.put
        self.delete = self._rows.delete
        self.list = self._rows.list

    async def get(self, key: str, locale: str, channel: str) -> StoredTemplate | None:
        if key.endswith("_nudge"):
            self.rendering_next.set()
        return await self._rows.get(key, locale, channel)


async def test_the_service_answers_while_a_hostile_template_is_being_saved() -> None:
    store = _SaysWhenValidationRenders()
    # Slow with the first sample only, so the check costs seconds, not minutes, even where a
    # save renders on the event loop; a later sample fails, so such a save ends at once.
    body = (
        "{% if support_focus is none and answer_url and not is_reminder %}" + SLOW + "{% endif %}"
        "{% if support_focus == 'belonging' %}{{ nobody }}{% endif %}STOP"
    )
    settings = {"template_max_operations": UNBUDGETED, "template_validation_timeout_s": 2}
    async with _client(store, **settings) as http:
        save: asyncio.Task[httpx.Response] = asyncio.create_task(
            http.put(SMS, json={"text_body": body})
        )
        await store.rendering_next.wait()
        live = await http.get("/health/live")
        assert live.status_code == 200
        assert not save.done(), "the liveness probe was answered only after the save"
        refused = await save
    assert refused.status_code == 422
    assert "took too long to render" in refused.json()["detail"]
