"""What the shared rate-limit tests drive: replicas with their own engines on one database, a
view of who sleeps on the ManualClock (to move it to the next deadline once nothing else can
run), and stores wrapped at the limiter's constructor seam to count or hold reservations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.adapters.rate_limit_store import SqlTokenStore
from services.notifier.domain.deployment_rate_limit import DeploymentTokenBucket, TokenStore
from services.notifier.domain.rate_limit import Reservation, ReservationRequest
from shared.clock import Clock, ManualClock
from shared.db import create_engine, session_factory
from tests.support import eventually

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "notifier" / "migrations"


class WatchedClock:
    """The test's ManualClock, with the deadlines of the sleeps pending on it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.deadlines: list[datetime] = []

    def now(self) -> datetime:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, instant: datetime) -> None:
        self.deadlines.append(instant)
        try:
            await self.clock.sleep_until(instant)
        finally:
            self.deadlines.remove(instant)

    def settled(self, sleepers: int) -> bool:
        """``sleepers`` sleeps pending and none of them due: everything else is blocked."""
        now = self.now()
        return len(self.deadlines) == sleepers and all(d > now for d in self.deadlines)

    async def run_until(self, end: datetime, sleepers: int) -> None:
        """Move time from deadline to deadline up to ``end``, each time once ``sleepers``
        sleeps are pending again (real time passes only for database round trips)."""
        while True:
            await eventually(lambda: self.settled(sleepers), timeout_s=30)
            following = min(self.deadlines)
            if following > end:
                break
            self.clock.set(following)
        self.clock.set(end)
        await eventually(lambda: self.settled(sleepers), timeout_s=30)


class CountingStore:
    """Passes reservations on, counting them."""

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self.calls = 0

    async def reserve(self, name: str, request: ReservationRequest) -> Reservation:
        self.calls += 1
        return await self.inner.reserve(name, request)


class HeldStore:
    """Passes a reservation on only once ``release`` is set (one in flight, for cancelling)."""

    def __init__(self) -> None:
        self.inner: TokenStore | None = None
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()

    def wrapping(self, inner: TokenStore) -> TokenStore:
        self.inner = inner
        return self

    async def reserve(self, name: str, request: ReservationRequest) -> Reservation:
        assert self.inner is not None
        self.waiting.set()
        await self.release.wait()
        return await self.inner.reserve(name, request)


class Replica:
    """One notifier replica's view of the shared limit: its own engine and connection pool."""

    def __init__(
        self,
        url: str,
        schema: str | None,
        clock: Clock,
        rate: float,
        burst: float,
        reserve_s: float = 0.05,
        name: str = "sms",
        wrap_store: Callable[[TokenStore], TokenStore] = lambda store: store,
    ) -> None:
        self.engine: AsyncEngine = create_engine(url, schema)
        self.store = CountingStore(SqlTokenStore(session_factory(self.engine)))
        self.bucket = DeploymentTokenBucket(
            name, rate, burst, clock, wrap_store(self.store), reserve_s
        )

    async def close(self) -> None:
        await self.engine.dispose()
