"""A token bucket per provider: ``rate`` messages a second on average, ``burst`` at once.

Providers throttle per account or sender (Twilio queues beyond a long code's rate and answers
429 when its queue is full); sending no faster than they accept keeps retries for real failures.
Time comes from the injected clock, so tests drive it with a ``ManualClock``.

``TokenBucket`` is one process's bucket. ``reserve_tokens`` is the same arithmetic on a bucket
whose level is stored elsewhere (one row shared by every replica, see
``domain/deployment_rate_limit.py``); both sides of the ``RateLimiter`` protocol the dispatcher
calls.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.clock import Clock

# Waits are rounded up to the microsecond (the resolution of datetime, hence of every Clock),
# and this much float error is forgiven, so a waiter that slept the time it was told finds its
# token instead of being told to wait another microsecond.
_EPSILON = 1e-9


class RateLimiter(Protocol):
    async def take(self, count: float = 1) -> None:
        """Wait (on the clock) until ``count`` tokens may be spent, and spend them. An SMS costs
        one per segment; more than the burst costs a full burst.

        Raises ``RateLimitUnavailable`` if the limit cannot be consulted: nothing was spent and
        nothing may be sent on its account; try again later.
        """
        ...


class RateLimitUnavailable(Exception):
    """The store of a shared limit cannot be reached: take again later (a transient failure,
    like the database being down, which it is when the store is the notifier's database)."""


def wait_for(missing: float, rate: float) -> float:
    """Seconds until ``missing`` tokens have been added at ``rate``, rounded up to the µs."""
    return math.ceil(missing / rate * 1e6) / 1e6


@dataclass(frozen=True)
class BucketLevel:
    tokens: float
    updated_at: datetime


@dataclass(frozen=True)
class ReservationRequest:
    """What a replica asks of the shared bucket: at least ``shortfall`` tokens (or nothing), and
    as many as ``want`` if the bucket holds them; ``now`` is the replica's clock."""

    rate: float
    burst: float
    shortfall: float
    want: float
    now: datetime


@dataclass(frozen=True)
class Reservation:
    granted: float  # tokens now the caller's; 0 when the bucket held fewer than the shortfall
    wait_s: float  # when nothing was granted: until the bucket holds what was wanted


def reserve_tokens(
    level: BucketLevel | None, request: ReservationRequest
) -> tuple[BucketLevel, Reservation]:
    """Refill ``level`` (None: a bucket never used, which starts full) to ``request.now`` and take
    between the shortfall and what is wanted from it, all or nothing of the shortfall.

    Whoever calls this serialises the calls on one bucket (a row lock); then, with every replica
    refilling from the latest instant any of them recorded, the tokens granted by instant t never
    exceed burst + rate x (t - the bucket's first use), however many replicas share it.
    """
    now = request.now
    if level is None:
        level = BucketLevel(request.burst, now)
    # A clock behind the recorded instant (another replica's, or one stepped back) adds nothing.
    elapsed = max(0.0, (now - level.updated_at).total_seconds())
    tokens = min(request.burst, level.tokens + elapsed * request.rate)
    updated_at = max(now, level.updated_at)
    want = min(max(request.want, request.shortfall), request.burst)
    if tokens >= min(request.shortfall, request.burst) - _EPSILON:
        granted = min(tokens, want)
        return BucketLevel(max(0.0, tokens - granted), updated_at), Reservation(granted, 0.0)
    # Waiting for what is wanted, not only the shortfall, lets one reservation serve the
    # messages queued behind this one instead of one transaction per message.
    return BucketLevel(tokens, updated_at), Reservation(0.0, wait_for(want - tokens, request.rate))


class TokenBucket:
    """Starts full. Not thread-safe; one event loop."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        if not burst >= 1:
            raise ValueError("burst must allow at least one message")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated_at = clock.now()
        self._waiters = asyncio.Lock()

    def try_take(self, count: float = 1) -> float:
        """Take ``count`` tokens (an SMS costs one per segment; at most ``burst``) if available
        and return 0.0; otherwise take nothing and return the seconds until they will be."""
        count = min(count, self.burst)
        self._refill()
        if self._tokens >= count - _EPSILON:
            self._tokens = max(0.0, self._tokens - count)
            return 0.0
        return wait_for(count - self._tokens, self.rate)

    async def take(self, count: float = 1) -> None:
        """Wait (on the clock) until ``count`` tokens are available and take them.

        Waiters are served in arrival order. Cancellation takes nothing.
        """
        async with self._waiters:
            while (wait := self.try_take(count)) > 0:
                await self._clock.sleep(wait)

    def _refill(self) -> None:
        now = self._clock.now()
        # A wall clock stepped backwards (NTP) must not mint or destroy tokens.
        elapsed = max(0.0, (now - self._updated_at).total_seconds())
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated_at = max(now, self._updated_at)
