"""A job that runs now and then every ``interval`` on the injected clock, until stopped.

For housekeeping (retention, stream scrubs, purges): each run starts at its last start plus the
interval (no drift), and a failing run is logged by exception type and retried at the next beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from shared.clock import Clock

log = logging.getLogger(__name__)


def every(
    clock: Clock, interval: timedelta, job: Callable[[], Awaitable[object]], name: str
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A background loop (``ServiceRuntime.background``) that runs ``job`` periodically."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = clock.now()
            try:
                outcome = await job()
                log.debug("%s: %s", name, outcome)
            except Exception as error:
                log.warning("%s failed: %s; will retry", name, type(error).__name__)
            sleeper = asyncio.ensure_future(clock.sleep_until(started + interval))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return loop
