"""A provider's rate limit shared by every notifier replica.

The provider meters the account, not the process: N replicas each with its own bucket would
send N times the rate. Here the bucket's level lives in one store (a row of the notifier's
database: see ``adapters/rate_limit_store.py`` for why there and not in a JetStream KV bucket),
and each replica takes tokens from it in blocks, then hands them out to its own callers:

* **No overshoot.** The store grants only tokens the shared bucket holds (``reserve_tokens``
  under a row lock), so the tokens granted to all replicas together by instant t never exceed
  burst + rate x t. A replica spends only what it was granted.
* **Off the per-message path.** A replica short of tokens asks for what its queued callers
  need, up to ``reserve_s`` worth of the rate (at least the caller's own shortfall), and when
  the bucket is short waits on the clock until that much is there: a busy replica makes about
  1 / ``reserve_s`` reservations a second, not one per message, and a caller waits at most
  ``reserve_s`` longer than with a per-message bucket.
* **Loss, bounded.** Tokens granted and not handed out (their caller was cancelled while the
  reservation ran) serve the replica's next caller; after ``HELD_TOKENS_EXPIRE_AFTER`` unused
  they are forfeited, so stale tokens never add to a later burst: in any window of w seconds
  the provider sees at most burst + rate x (w + that expiry). What is forfeited is lost
  throughput, never extra sends: less than one block per replica per pause in its traffic.
* **Order and time.** Callers of one replica are served in arrival order (one FIFO lock);
  time is the injected clock, whose reading is what the store refills by.
* **Store down.** ``take`` raises ``RateLimitUnavailable`` having spent nothing; for
  ``STORE_RETRY_AFTER`` after a failure further takes fail at once, so a queue of callers does
  not pay one connection timeout each. Tokens already held are still handed out (they were
  granted). Falling back to rate / N locally was rejected: N is not known reliably during a
  rollout or a partition, and a guess too small overshoots.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Protocol

from services.notifier.domain.rate_limit import (
    RateLimitUnavailable,
    Reservation,
    ReservationRequest,
)
from shared.clock import Clock

_EPSILON = 1e-9  # as in TokenBucket: float error forgiven when comparing token counts
HELD_TOKENS_EXPIRE_AFTER = timedelta(seconds=1)
STORE_RETRY_AFTER = timedelta(seconds=1)


class TokenStore(Protocol):
    async def reserve(self, name: str, request: ReservationRequest) -> Reservation:
        """Apply ``reserve_tokens`` to the bucket ``name`` atomically; raise
        ``RateLimitUnavailable`` if the store cannot be reached (then nothing was granted, or
        what was is lost: never granted twice)."""
        ...


class DeploymentTokenBucket:
    """One replica's share of the bucket ``name`` in ``store``. One event loop."""

    def __init__(
        self,
        name: str,
        rate: float,
        burst: float,
        clock: Clock,
        store: TokenStore,
        reserve_s: float = 0.05,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        if not burst >= 1:
            raise ValueError("burst must allow at least one message")
        if not reserve_s > 0:
            raise ValueError("reserve_s must be positive")
        self.name = name
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._store = store
        self._block = rate * reserve_s
        self._held = 0.0  # granted to this replica, not yet handed out
        self._held_until = clock.now()
        self._demand = 0.0  # tokens asked for by takes not yet served, each counted once
        self._queue = asyncio.Lock()  # FIFO: takes are served in arrival order
        self._in_flight: asyncio.Future[Reservation] | None = None
        self._store_down_until: datetime | None = None
        self.granted = 0.0  # tokens the store granted to this replica, in total
        self.forfeited = 0.0  # of those, expired unused

    @property
    def held(self) -> float:
        """Tokens granted to this replica and not handed out yet."""
        return self._held

    async def take(self, count: float = 1) -> None:
        """Wait until ``count`` tokens (at most a burst) are this replica's, and spend them.

        Cancellation spends nothing: tokens reserved for a cancelled take serve the next one.
        """
        count = min(count, self.burst)
        self._demand += count
        try:
            async with self._queue:
                while True:
                    await self._settle_orphaned_reservation()
                    if self._hand_out(count):
                        return
                    asked_at = self._clock.now()
                    reservation = await self._reserve(count, asked_at)
                    if not reservation.granted:
                        # Until an instant, not for a while: the clock moves on during the
                        # transaction, and waiting wait_s after it would let a token lie idle.
                        wait = timedelta(seconds=reservation.wait_s)
                        await self._clock.sleep_until(asked_at + wait)
        finally:
            self._demand -= count

    def _hand_out(self, count: float) -> bool:
        if self._held and self._clock.now() > self._held_until:
            self.forfeited += self._held
            self._held = 0.0
        if self._held >= count - _EPSILON:
            self._held = max(0.0, self._held - count)
            return True
        return False

    async def _reserve(self, count: float, now: datetime) -> Reservation:
        if self._store_down_until is not None and now < self._store_down_until:
            raise RateLimitUnavailable(f"rate limit {self.name!r}: store down, not retried yet")
        shortfall = count - self._held
        # What this replica's queued takes still need, within one block (never less than the
        # shortfall): a replica does not sit on tokens the others are waiting for.
        want = min(self._demand - self._held, max(shortfall, self._block))
        request = ReservationRequest(self.rate, self.burst, shortfall, want, now)
        task = asyncio.ensure_future(self._store.reserve(self.name, request))
        task.add_done_callback(self._credit)
        self._in_flight = task
        # Shielded: a take cancelled mid-transaction leaves the reservation to finish, and its
        # grant to be credited here, instead of tokens the store counts as spent going nowhere.
        return await asyncio.shield(task)

    def _credit(self, task: asyncio.Future[Reservation]) -> None:
        """Runs as the reservation finishes, before the take that awaits it resumes."""
        self._in_flight = None
        if task.cancelled():
            return
        if task.exception() is not None:
            self._store_down_until = self._clock.now() + STORE_RETRY_AFTER
            return
        self._store_down_until = None
        granted = task.result().granted
        if granted:
            self.granted += granted
            self._held += granted
            self._held_until = self._clock.now() + HELD_TOKENS_EXPIRE_AFTER

    async def _settle_orphaned_reservation(self) -> None:
        """A reservation still running here was started by a take since cancelled: let it
        finish (its grant is credited) before asking the store again."""
        orphan = self._in_flight
        if orphan is not None:
            # If it failed, its caller is gone; this take asks the store itself.
            with contextlib.suppress(RateLimitUnavailable):
                await asyncio.shield(orphan)
