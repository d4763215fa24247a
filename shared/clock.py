"""Injected time.

Every service reads time through a ``Clock`` so that tests (and the demo) can drive schedules
without sleeping: ``ManualClock.advance`` wakes whatever sleeps on it, and the same code path
runs in production on ``SystemClock``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``seconds`` of this clock's time have passed."""
        ...

    async def sleep_until(self, instant: datetime) -> None:
        """Wait until this clock reads ``instant`` (at once if it already has).

        Periodic loops sleep until their last start plus their interval, not for an interval
        after they finish: they neither drift nor miss a beat when a run was slow.
        """
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, instant: datetime) -> None:
        await self.sleep((instant - self.now()).total_seconds())


class ManualClock:
    """A clock that moves only when told to; sleepers wake when their deadline is reached."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start instant")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, instant: datetime) -> None:
        deadline = instant.astimezone(UTC)
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._counter), future))
        await future

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    def set(self, instant: datetime) -> None:
        """Move to ``instant`` (never backwards) and wake every sleeper now due."""
        instant = instant.astimezone(UTC)
        if instant < self._now:
            raise ValueError("time does not go backwards")
        self._now = instant
        while self._sleepers and self._sleepers[0][0] <= instant:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
