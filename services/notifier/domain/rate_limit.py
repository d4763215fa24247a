"""A token bucket per provider: ``rate`` messages a second on average, ``burst`` at once.

Providers throttle per account or sender (Twilio queues beyond a long code's rate and answers
429 when its queue is full); sending no faster than they accept keeps retries for real failures.
Time comes from the injected clock, so tests drive it with a ``ManualClock``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

from shared.clock import Clock

# Waits are rounded up to the microsecond (the resolution of datetime, hence of every Clock),
# and this much float error is forgiven, so a waiter that slept the time it was told finds its
# token instead of being told to wait another microsecond.
_EPSILON = 1e-9


class RateLimiter(Protocol):
    async def take(self, count: float = 1) -> None:
        """Wait until ``count`` tokens are available and take them."""
        ...


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
        return math.ceil((count - self._tokens) / self.rate * 1e6) / 1e6

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
