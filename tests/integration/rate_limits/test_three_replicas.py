"""Three replicas, each with its own engine and pool, share one bucket in the database: what
they spend by any instant stays within rate x elapsed + burst, and together they get about the
rate, not three times it. Time moves on the ManualClock, from one pending deadline to the
next once every replica is blocked, so a loaded machine changes nothing but the wall time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from shared.clock import ManualClock
from tests.integration.rate_limits.support import Replica, WatchedClock
from tests.support import eventually

RATE = 10.0
BURST = 5.0
RESERVE_S = 0.2  # blocks of 2 tokens
SENDERS_PER_REPLICA = 6
RUN = timedelta(seconds=20)


@pytest.fixture
async def replicas(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> AsyncIterator[tuple[WatchedClock, list[Replica]]]:
    url, schema = shared_database
    watched = WatchedClock(clock)
    three = [Replica(url, schema, watched, RATE, BURST, RESERVE_S) for _ in range(3)]
    yield watched, three
    for replica in three:
        await replica.close()


def segments_of(sender: int, message: int) -> int:
    """SMS of one to three segments: a token per segment."""
    return 1 + (sender + message) % 3


async def test_three_replicas_together_spend_the_rate_not_three_times_it(
    replicas: tuple[WatchedClock, list[Replica]],
) -> None:
    watched, three = replicas
    start = watched.now()
    spent: list[tuple[datetime, int, float]] = []  # (instant, replica, tokens)

    async def sender(replica: int, number: int) -> None:
        for message in range(10_000):
            tokens = segments_of(number, message)
            await three[replica].bucket.take(tokens)
            spent.append((watched.now(), replica, tokens))

    tasks = [
        asyncio.create_task(sender(r, n)) for r in range(3) for n in range(SENDERS_PER_REPLICA)
    ]
    try:
        # At rest every replica has one take sleeping for tokens, the rest queued behind it.
        await watched.run_until(start + RUN, sleepers=3)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Never more than the bucket allows, at any instant a token was spent.
    total = 0.0
    for instant, _, tokens in sorted(spent):
        total += tokens
        elapsed = (instant - start).total_seconds()
        assert total <= RATE * elapsed + BURST + 1e-6, (instant, total)
    granted = sum(replica.bucket.granted for replica in three)
    assert granted <= RATE * RUN.total_seconds() + BURST + 1e-6
    # And close to it: only what the replicas hold, and what the bucket has gathered towards
    # the next reservation, is not spent yet (at most a message or a block each).
    assert total >= RATE * RUN.total_seconds() + BURST - 4 * max(3, RATE * RESERVE_S)
    assert total == pytest.approx(granted - sum(replica.bucket.held for replica in three))
    assert sum(replica.bucket.forfeited for replica in three) == 0
    assert {replica for _, replica, _ in spent} == {0, 1, 2}


async def test_a_busy_replica_reserves_in_blocks_not_per_message(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    replica = Replica(url, schema, clock, rate=1000, burst=1000, reserve_s=0.05)  # blocks of 50
    try:
        await asyncio.wait_for(asyncio.gather(*(replica.bucket.take() for _ in range(400))), 30)
    finally:
        await replica.close()
    # The first take asks alone, before the others have queued; then blocks of 50 for 399.
    assert replica.store.calls == 1 + 8
    assert replica.bucket.granted == 400
    assert replica.bucket.held == 0


async def test_a_lone_message_waits_only_for_its_own_tokens(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    watched = WatchedClock(clock)
    replica = Replica(url, schema, watched, rate=1000, burst=1, reserve_s=0.05)
    try:
        start = watched.now()
        await replica.bucket.take()
        second = asyncio.create_task(replica.bucket.take())
        await eventually(lambda: watched.settled(1))
        # One token's worth, not the 50 of a block: nothing else is queued here.
        assert watched.deadlines == [start + timedelta(milliseconds=1)]
        clock.set(start + timedelta(milliseconds=1))
        await asyncio.wait_for(second, 10)
    finally:
        await replica.close()
    assert replica.store.calls == 3  # granted, refused (wait 1 ms), granted


async def test_replicas_with_their_clocks_apart_mint_nothing(
    shared_database: tuple[str, str | None], clock: ManualClock
) -> None:
    url, schema = shared_database
    start = clock.now()
    watched = WatchedClock(clock)
    ahead = ManualClock(start + timedelta(seconds=3))
    behind = Replica(url, schema, watched, rate=1, burst=2)
    front = Replica(url, schema, ahead, rate=1, burst=2)
    try:
        for _ in range(2):
            await asyncio.wait_for(front.bucket.take(), 10)
        # The row now says 3 s later than this replica's clock: it waits for time it has not
        # seen pass, it is not paid for the difference.
        waiting = asyncio.create_task(behind.bucket.take())
        await eventually(lambda: watched.settled(1))
        assert watched.deadlines == [start + timedelta(seconds=1)]
        clock.set(start + timedelta(seconds=3))
        await eventually(lambda: watched.settled(1))
        assert watched.deadlines == [start + timedelta(seconds=4)]
        clock.set(start + timedelta(seconds=4))
        await asyncio.wait_for(waiting, 10)
    finally:
        await behind.close()
        await front.close()
