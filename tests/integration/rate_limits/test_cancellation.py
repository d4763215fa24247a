"""Token accounting when takes are cancelled (a dispatcher stopping, a sweep abandoned): what
the store granted is spent, held for the replica's next take, or forfeited after a while;
never handed out twice, never more than the bucket gave."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.notifier.adapters.tables import rate_limits
from services.notifier.domain.deployment_rate_limit import HELD_TOKENS_EXPIRE_AFTER
from shared.clock import ManualClock
from shared.db import create_engine
from tests.integration.rate_limits.support import HeldStore, Replica, WatchedClock
from tests.support import eventually


async def stored_tokens(url: str, schema: str | None) -> float:
    engine = create_engine(url, schema)
    try:
        async with engine.connect() as connection:
            return float((await connection.execute(select(rate_limits.c.tokens))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_take_cancelled_while_waiting_for_tokens_spends_nothing(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    watched = WatchedClock(clock)
    replica = Replica(url, schema, watched, rate=1, burst=1)
    try:
        await replica.bucket.take()
        waiter = asyncio.create_task(replica.bucket.take())
        await eventually(lambda: watched.settled(1))
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        clock.advance(timedelta(seconds=1))
        # The token the cancelled take waited for is still in the shared bucket.
        await asyncio.wait_for(replica.bucket.take(), 10)
        assert replica.bucket.granted == 2
        assert await stored_tokens(url, schema) == 0
    finally:
        await replica.close()


async def cancel_mid_reservation(replica: Replica, held: HeldStore, count: float) -> None:
    """A take of ``count`` cancelled while its reservation is in flight, which then finishes."""
    first = asyncio.create_task(replica.bucket.take(count))
    await asyncio.wait_for(held.waiting.wait(), 10)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    held.release.set()
    await eventually(lambda: replica.bucket.held == count)


async def test_a_take_cancelled_mid_reservation_leaves_its_tokens_to_the_next(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    held = HeldStore()
    replica = Replica(url, schema, clock, rate=1, burst=3, wrap_store=held.wrapping)
    try:
        await cancel_mid_reservation(replica, held, 2)
        # The transaction finished and its grant is this replica's: the next take spends it
        # without asking the store again.
        calls = replica.store.calls
        await asyncio.wait_for(replica.bucket.take(2), 10)
        assert replica.store.calls == calls
        assert (replica.bucket.granted, replica.bucket.held) == (2, 0)
        assert await stored_tokens(url, schema) == 1
    finally:
        await replica.close()


async def test_tokens_held_unused_are_forfeited_not_saved_for_a_later_burst(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    held = HeldStore()
    replica = Replica(url, schema, clock, rate=1, burst=3, wrap_store=held.wrapping)
    try:
        await cancel_mid_reservation(replica, held, 2)
        clock.advance(HELD_TOKENS_EXPIRE_AFTER + timedelta(microseconds=1))
        calls = replica.store.calls
        for _ in range(2):  # what the shared bucket holds now (1 left + 1 s of refill)
            await asyncio.wait_for(replica.bucket.take(), 10)
        assert replica.store.calls == calls + 2
        assert replica.bucket.forfeited == 2
        assert replica.bucket.granted == 2 + 2
        assert await stored_tokens(url, schema) == pytest.approx(1e-6, abs=1e-9)
    finally:
        await replica.close()


async def test_takes_cancelled_wherever_they_are_leave_the_books_balanced(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    watched = WatchedClock(clock)
    start = watched.now()
    replicas = [Replica(url, schema, watched, rate=4, burst=4, reserve_s=0.5) for _ in range(3)]
    handed_out = [0.0, 0.0, 0.0]

    async def send(replica: int, count: int) -> None:
        await replicas[replica].bucket.take(count)
        handed_out[replica] += count

    tasks = [asyncio.create_task(send(n % 3, 1 + n % 2)) for n in range(60)]

    def live_replicas() -> int:
        return len({n % 3 for n, task in enumerate(tasks) if not task.done()})

    victims = iter(range(0, 60, 4))
    cancelled = [False] * 60
    try:
        while True:
            await eventually(lambda: watched.settled(live_replicas()), timeout_s=30)
            if not watched.deadlines:
                break
            clock.set(min(watched.deadlines))
            # One of every four takes is cancelled, wherever it is then: just woken and
            # reserving, queued behind another, or spending held tokens.
            victim = next((n for n in victims if not tasks[n].done()), None)
            if victim is not None:
                tasks[victim].cancel()
                cancelled[victim] = True
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for replica in replicas:
            await replica.close()
    assert [isinstance(outcome, asyncio.CancelledError) for outcome in outcomes] == cancelled
    assert sum(cancelled) >= 5
    for n, replica in enumerate(replicas):
        bucket = replica.bucket
        sent = sum(1 + m % 2 for m in range(n, 60, 3) if not cancelled[m])
        assert handed_out[n] == sent
        assert handed_out[n] + bucket.held + bucket.forfeited == pytest.approx(bucket.granted)
    elapsed = (watched.now() - start).total_seconds()
    assert sum(r.bucket.granted for r in replicas) <= 4 * elapsed + 4 + 1e-6
