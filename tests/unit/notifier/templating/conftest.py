from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import pytest

from services.notifier.templating import (
    InMemoryStoredTemplates,
    PromptRenderer,
    RenderLimits,
    RenderPool,
)
from shared.clock import Clock

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def render_pool() -> Iterator[RenderPool]:
    """One pool of render workers, default limits, for every test that needs no other: a
    worker per test would cost more than most tests. Tests of overruns make their own."""
    pool = RenderPool()
    yield pool
    asyncio.run(pool.close())


@pytest.fixture
def store() -> InMemoryStoredTemplates:
    return InMemoryStoredTemplates()


@pytest.fixture
def renderer(store: InMemoryStoredTemplates, render_pool: RenderPool) -> PromptRenderer:
    return PromptRenderer(store, pool=render_pool)


@pytest.fixture
async def pool_with() -> AsyncIterator[Callable[..., RenderPool]]:
    """Pools with the limits (small deadlines and memory) and clock a test gives, closed
    after it."""
    pools: list[RenderPool] = []

    def make(limits: RenderLimits, clock: Clock | None = None) -> RenderPool:
        pools.append(RenderPool(limits, clock))
        return pools[-1]

    yield make
    for pool in pools:
        await pool.close()
