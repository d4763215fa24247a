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
    clock: Clock,
    interval: timedelta,
    job: Callable[[], Awaitable[object]],
    name: str,
    kick: asyncio.Event | None = None,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A background loop (``ServiceRuntime.background``) that runs ``job`` periodically, and
    at once whenever ``kick`` is set (something it waits for has just happened)."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = clock.now()
            if kick is not None:
                kick.clear()
            try:
                outcome = await job()
                log.debug("%s: %s", name, outcome)
            except Exception as error:
                log.warning("%s failed: %s; will retry", name, type(error).__name__)
            waits = [
                asyncio.ensure_future(clock.sleep_until(started + interval)),
                asyncio.ensure_future(stop.wait()),
            ]
            if kick is not None:
                waits.append(asyncio.ensure_future(kick.wait()))
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return loop
