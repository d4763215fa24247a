from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.clock import ManualClock

START = datetime(2027, 1, 1, tzinfo=UTC)


async def test_sleepers_wake_when_their_deadline_is_reached() -> None:
    clock = ManualClock(START)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("soon", 10)), asyncio.create_task(sleeper("late", 100))]
    await asyncio.sleep(0)
    clock.advance(timedelta(seconds=10))
    await asyncio.sleep(0)
    assert woke == ["soon"]
    clock.advance(timedelta(seconds=89))
    await asyncio.sleep(0)
    assert woke == ["soon"]
    clock.advance(timedelta(seconds=1))
    await asyncio.gather(*tasks)
    assert woke == ["soon", "late"]


def test_time_does_not_go_backwards() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START - timedelta(seconds=1))


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2027, 1, 1))
