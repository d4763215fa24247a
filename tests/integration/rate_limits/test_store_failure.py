"""When the shared bucket's store cannot be used, a take fails with ``RateLimitUnavailable``
having spent nothing (the dispatcher treats it as the database being down, which it is: the
store is the notifier's database), further takes fail at once for a while instead of paying a
connection timeout each, and takes resume when the store is back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.demo.system import DatabaseFor
from services.notifier.adapters.rate_limit_store import SqlTokenStore
from services.notifier.adapters.tables import rate_limits
from services.notifier.domain.deployment_rate_limit import (
    STORE_RETRY_AFTER,
    DeploymentTokenBucket,
)
from services.notifier.domain.rate_limit import RateLimitUnavailable
from shared.clock import ManualClock
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head
from shared.natsdev import free_port
from tests.conftest import on_postgres
from tests.integration.rate_limits.support import MIGRATIONS, CountingStore, WatchedClock
from tests.support import eventually


async def test_an_unreachable_store_fails_takes_fast_and_spends_nothing(
    clock: ManualClock, tmp_path: Path
) -> None:
    # Nothing listens there: PostgreSQL refuses the connection, SQLite cannot open the file.
    url = (
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"
        if on_postgres()
        else f"sqlite+aiosqlite:///{tmp_path / 'no such directory' / 'notifier.sqlite3'}"
    )
    engine = create_engine(url)
    store = CountingStore(SqlTokenStore(session_factory(engine)))
    bucket = DeploymentTokenBucket("sms", 1, 5, clock, store)
    try:
        with pytest.raises(RateLimitUnavailable):
            await asyncio.wait_for(bucket.take(), 30)
        assert store.calls == 1
        # Queued messages fail at once, not after a connection attempt each.
        for _ in range(5):
            with pytest.raises(RateLimitUnavailable):
                await asyncio.wait_for(bucket.take(), 1)
        assert store.calls == 1
        clock.advance(STORE_RETRY_AFTER)
        with pytest.raises(RateLimitUnavailable):
            await asyncio.wait_for(bucket.take(), 30)
        assert store.calls == 2
        assert (bucket.granted, bucket.held) == (0, 0)
    finally:
        await engine.dispose()


async def test_takes_resume_when_the_store_is_back_and_the_outage_mints_nothing(
    clock: ManualClock, database_for: DatabaseFor
) -> None:
    # A database without the table yet (not migrated) is as unusable as an unreachable one,
    # and can be mended in the middle of the test.
    url, schema = database_for("notifier")
    engine = create_engine(url, schema)
    watched = WatchedClock(clock)
    start = clock.now()
    store = SqlTokenStore(session_factory(engine))
    bucket = DeploymentTokenBucket("sms", 2, 3, watched, store)
    try:
        with pytest.raises(RateLimitUnavailable):
            await asyncio.wait_for(bucket.take(), 30)
        await upgrade_to_head(engine, MIGRATIONS, schema)
        clock.advance(STORE_RETRY_AFTER / 2)
        with pytest.raises(RateLimitUnavailable):  # not asked again yet
            await asyncio.wait_for(bucket.take(), 1)
        clock.advance(STORE_RETRY_AFTER)
        for _ in range(3):  # the burst, once: the outage did not save up tokens
            await asyncio.wait_for(bucket.take(), 30)
        waiting = asyncio.create_task(bucket.take())
        await eventually(lambda: watched.settled(1))
        assert watched.deadlines == [clock.now() + timedelta(seconds=0.5)]
        clock.advance(timedelta(seconds=0.5))
        await asyncio.wait_for(waiting, 30)
        assert bucket.granted == 4
        async with engine.connect() as connection:
            row = (await connection.execute(select(rate_limits))).one()
        assert (row.name, row.tokens) == ("sms", 0)
        assert row.updated_at == start + STORE_RETRY_AFTER * 1.5 + timedelta(seconds=0.5)
    finally:
        await engine.dispose()
