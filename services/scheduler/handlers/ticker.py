"""The scheduler's heartbeat: tick on the injected clock. Due events go to JetStream as each
batch is handed over (before it commits); nudges go through the outbox relay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.handlers.emit_due import (
    EmissionPolicy,
    HandOver,
    TickResult,
    emit_due_occurrences,
)
from services.scheduler.handlers.nudges import emit_due_nudges, forget_old_nudge_timers
from shared.clock import Clock
from shared.contracts import Event
from shared.messaging.publisher import BatchPublisher, publish_events_now
from shared.outbox import OutboxRelay
from shared.tracing import current_trace_headers

log = logging.getLogger(__name__)

# Longer than any stream keeps a PromptSent that could be redelivered.
NUDGE_TIMER_RETENTION = timedelta(days=30)
HOUSEKEEPING_EVERY = timedelta(hours=1)


class Ticker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        relay: OutboxRelay,
        interval_s: float,
        policy: EmissionPolicy,
        on_tick: Callable[[TickResult], None] | None = None,
        publisher: BatchPublisher | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._relay = relay
        # Due events are published by the tick itself; without a publisher they are staged
        # in the outbox (the relay publishes them) as before.
        self._publisher = publisher
        self._interval_s = interval_s
        self._policy = policy
        self._on_tick = on_tick  # metrics
        self._housekept_at: datetime | None = None
        self.last_tick_at: datetime | None = None

    def owes_tick_at(self, instant: datetime) -> bool:
        """Whether, by ``instant``, a tick is due that has not run yet."""
        last = self.last_tick_at
        return last is None or instant >= last + timedelta(seconds=self._interval_s)

    async def tick(self) -> TickResult:
        now = self._clock.now()
        kick = self._relay.kick
        hand_over = self._hand_over()
        # Handed-over due events leave nothing for the relay; staged ones wake it per batch.
        staged_kick = kick if hand_over is None else None
        result = await emit_due_occurrences(
            self._sessions, now, self._policy, staged_kick, hand_over
        )
        result.add(await emit_due_nudges(self._sessions, now, self._policy, kick))
        if self._housekept_at is None or now - self._housekept_at >= HOUSEKEEPING_EVERY:
            await forget_old_nudge_timers(self._sessions, now, NUDGE_TIMER_RETENTION)
            self._housekept_at = now
        self.last_tick_at = now
        if self._on_tick is not None:
            self._on_tick(result)
        if result.nudges or (result.emitted and hand_over is None):
            self._relay.kick()
        return result

    def _hand_over(self) -> HandOver | None:
        publisher = self._publisher
        if publisher is None:
            return None
        trace = current_trace_headers()

        async def publish(events: list[Event]) -> None:
            await publish_events_now(publisher, events, trace)

        return publish

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = self._clock.now()
            try:
                await self.tick()
            except Exception as error:  # a database outage: keep the loop, catch up later
                log.warning("tick failed: %s; retrying next tick", type(error).__name__)
            await self._clock.sleep_until(started + timedelta(seconds=self._interval_s))
