"""The scheduler's heartbeat: tick on the injected clock, then let the outbox relay publish."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.handlers.emit_due import TickResult, emit_due_occurrences
from shared.clock import Clock
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        relay: OutboxRelay,
        interval_s: float,
        batch_size: int,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._relay = relay
        self._interval_s = interval_s
        self._batch_size = batch_size
        self.last_tick_at: datetime | None = None

    async def tick(self) -> TickResult:
        now = self._clock.now()
        result = await emit_due_occurrences(self._sessions, now, self._batch_size)
        self.last_tick_at = now
        if result.emitted:
            self._relay.kick()
        return result

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as error:  # a database outage: keep the loop, catch up later
                log.warning("tick failed: %s; retrying next tick", type(error).__name__)
            await self._clock.sleep(self._interval_s)
