"""A pooled connection the server dropped while it sat idle is replaced before use; one used a
moment ago is not pinged (a ping is three round trips on asyncpg), so its loss is the next
statement's error, after which the pool replaces every connection it holds (``shared/db.py``).

The server ends a pooled connection's backend (``pg_terminate_backend``), as a restart or an
idle timeout on the way would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine


async def _backend(engine: AsyncEngine, hold: asyncio.Event | None = None) -> int:
    """The server process behind the connection the pool hands out (kept out until ``hold``
    is set, so that others are opened beside it)."""
    async with engine.connect() as connection:
        pid = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        if hold is not None:
            await hold.wait()
        return pid


@asynccontextmanager
async def _pool_of(
    url: str, size: int, ping_after_idle_s: float
) -> AsyncIterator[tuple[AsyncEngine, list[int]]]:
    """An engine whose pool holds ``size`` connections, and their backends in the order they
    went back to the pool (which hands out the first returned first)."""
    engine = create_engine(url, ping_after_idle_s=ping_after_idle_s)
    releases = [asyncio.Event() for _ in range(size)]
    holders = [asyncio.create_task(_backend(engine, release)) for release in releases]
    await asyncio.sleep(0.2)  # each holder has its own connection (real time, no schedule)
    pids = []
    for release, holder in zip(releases, holders, strict=True):  # returned in this order
        release.set()
        pids.append(await holder)
    try:
        yield engine, pids
    finally:
        await engine.dispose()


async def _terminate(url: str, pid: int) -> None:
    other = create_engine(url)
    try:
        async with other.connect() as connection:
            ended = await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert ended is True
    finally:
        await other.dispose()


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    postgres_schema: tuple[str, str],
) -> None:
    url, _ = postgres_schema
    # Every pooled connection counts as idle: each is pinged at checkout.
    async with _pool_of(url, 1, ping_after_idle_s=0.0) as (engine, (pid,)):
        await _terminate(url, pid)
        assert await _backend(engine) != pid


async def test_a_connection_used_a_moment_ago_fails_once_then_the_pool_is_renewed(
    postgres_schema: tuple[str, str],
) -> None:
    url, _ = postgres_schema
    async with _pool_of(url, 2, ping_after_idle_s=3600.0) as (engine, pids):
        assert len(set(pids)) == 2
        await _terminate(url, pids[0])  # the next one handed out
        with pytest.raises(DBAPIError):
            await _backend(engine)
        # Neither the broken connection nor its healthy sibling is handed out again.
        after = await asyncio.gather(*(_backend(engine) for _ in range(2)))
        assert not set(after) & set(pids)
