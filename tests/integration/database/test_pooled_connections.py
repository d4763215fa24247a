"""A pooled connection the server dropped while it sat idle is replaced before use; one used a
moment ago is not pinged (a ping is three round trips on asyncpg), so its loss is the next
statement's error, after which the pool hands out new connections (``shared/db.py``).

The server ends the pooled connection's backend (``pg_terminate_backend``), as a restart or
an idle timeout on the way would."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine


async def _backend_of_the_pooled_connection(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


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
    engine = create_engine(url, ping_after_idle_s=0.0)  # every pooled connection counts as idle
    try:
        pid = await _backend_of_the_pooled_connection(engine)
        await _terminate(url, pid)
        assert await _backend_of_the_pooled_connection(engine) != pid
    finally:
        await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged_and_its_loss_is_one_error(
    postgres_schema: tuple[str, str],
) -> None:
    url, _ = postgres_schema
    engine = create_engine(url, ping_after_idle_s=3600.0)
    try:
        pid = await _backend_of_the_pooled_connection(engine)
        await _terminate(url, pid)
        with pytest.raises(DBAPIError):
            await _backend_of_the_pooled_connection(engine)
        assert await _backend_of_the_pooled_connection(engine) != pid
    finally:
        await engine.dispose()
