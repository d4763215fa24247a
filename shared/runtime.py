"""The lifecycle and plumbing every service shares.

``build_plumbing`` makes the engine, sessions, broker and publisher from settings;
``ServiceRuntime`` migrates, declares streams, starts the broker, background loops and the HTTP
listeners (one per audience), and stops them in the reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import nats.errors
from faststream._internal.types import BrokerMiddleware
from faststream.nats import NatsBroker
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.contracts.base import Event
from shared.db import create_engine, ping_database, session_factory
from shared.http.health import ReadinessCheck
from shared.http.server import HttpServer
from shared.logs import quiet_routine_pull_timeouts
from shared.messaging.consumer import (
    BatchEventConsumer,
    BatchHandler,
    ConsumerSpec,
    EventConsumer,
    Handler,
)
from shared.messaging.publisher import JetStreamPublisher
from shared.metrics import ServiceMetrics
from shared.migrations import upgrade_to_head
from shared.settings import ServiceSettings
from shared.streams import ensure_streams
from shared.tracing import broker_middleware, build_tracer_provider, instrument_app

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
BackgroundLoop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class Resource(Protocol):
    """Something with connections to open at start and close at stop (a provider client)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Plumbing:
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: NatsBroker
    publisher: JetStreamPublisher
    metrics: ServiceMetrics
    tracer_provider: TracerProvider
    # Made by ``consume_batches``: their durable consumers are created at start.
    batch_consumers: list[BatchEventConsumer[Any]] = field(default_factory=list)

    def readiness(self) -> dict[str, ReadinessCheck]:
        async def nats() -> None:
            # A PING answered by the server, not the client's own "connected" flag: a connection
            # whose packets vanish (a partition, a blackholing firewall) still says connected.
            await self.broker.connection.flush(timeout=2)

        async def database() -> None:
            await ping_database(self.engine)

        return {"nats": nats, "database": database}

    def consume(self, spec: ConsumerSpec[E], handle: Handler[E]) -> None:
        """Subscribes ``handle`` to ``spec``'s events on this service's broker, one at a time;
        malformed or exhausted messages are dead-lettered through this service's publisher."""
        EventConsumer(spec, handle, self.publisher).subscribe(self.broker)

    def consume_batches(
        self,
        spec: ConsumerSpec[E],
        handle: Handler[E],
        handle_batch: BatchHandler[E],
        room_for_more: Callable[[], Awaitable[bool]] | None = None,
    ) -> BatchEventConsumer[E]:
        """A consumer of ``spec``'s events in batches of up to ``spec.batch_size`` on this
        service's connection; run it as a background loop (``ServiceRuntime.background``).
        ``room_for_more``: asked before each pull (``BatchEventConsumer``)."""
        consumer = BatchEventConsumer(
            spec,
            handle,
            handle_batch,
            self.publisher,
            lambda: self.broker.connection,
            room_for_more=room_for_more,
        )
        self.batch_consumers.append(consumer)
        return consumer


# A service's statements are short (a batch of rows); one still waiting after this is taken to
# be lost in a network partition and its connection is dropped, instead of waiting for TCP to
# give up (hours). Migrations have no such limit: they run on an engine of their own.
DATABASE_COMMAND_TIMEOUT_S = 15.0

# What draining the connection raises when NATS cannot be reached at stop.
NATS_GONE = (nats.errors.ConnectionReconnectingError, nats.errors.ConnectionClosedError)


def build_broker(
    nats_url: str, middlewares: Sequence[BrokerMiddleware[Any, Any]] = ()
) -> NatsBroker:
    """The NATS connection every service uses (comma-separated servers)."""
    logger = logging.getLogger("faststream.nats")
    quiet_routine_pull_timeouts(logger)
    return NatsBroker(
        nats_url.split(","),
        max_reconnect_attempts=-1,  # a service outlives a NATS outage
        # A connection that went silent (no FIN, no RST: a partition) is found out by the
        # server not answering pings: after (2 + 1) x 5 s, then the client reconnects. The
        # library's default, 120 s, left a service publishing into the void for minutes.
        ping_interval=5,
        max_outstanding_pings=2,
        graceful_timeout=15,
        # Our logger, so configure_logging governs it; per-message lines only at DEBUG.
        logger=logger,
        log_level=logging.DEBUG,
        middlewares=tuple(middlewares),
    )


def build_plumbing(settings: ServiceSettings, metrics: ServiceMetrics) -> Plumbing:
    """Creates objects only; nothing connects until ``ServiceRuntime.start``. ``metrics``: the
    service's own (``services/<name>/metrics.py``), in a registry of this runtime's."""
    engine = create_engine(
        settings.database_url,
        settings.database_schema,
        command_timeout_s=DATABASE_COMMAND_TIMEOUT_S,
    )
    tracer_provider = build_tracer_provider(metrics.service)
    # Telemetry outermost: the Prometheus middleware's work is then part of the span.
    broker = build_broker(
        settings.nats_url,
        (broker_middleware(tracer_provider), metrics.broker_middleware()),
    )
    metrics.watch_consumers(lambda: broker.config.connection_state.stream)
    publisher = JetStreamPublisher(broker, on_published=metrics.published)
    return Plumbing(
        settings, engine, session_factory(engine), broker, publisher, metrics, tracer_provider
    )


OPERATORS_LISTENER = "operators"


@dataclass
class ServiceRuntime:
    name: str
    plumbing: Plumbing
    listeners: list[HttpServer]
    migrations: Path
    background: list[BackgroundLoop] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Every listener continues callers' traces; the operators' one also serves /metrics.
        for listener in self.listeners:
            instrument_app(listener.app, self.plumbing.tracer_provider)
            if listener.name == OPERATORS_LISTENER:
                listener.app.include_router(self.plumbing.metrics.router())

    @property
    def broker(self) -> NatsBroker:
        return self.plumbing.broker

    async def start(self) -> None:
        settings = self.plumbing.settings
        if settings.migrate_on_start:
            # Not through the service's engine: its statement timeout would cut a long index
            # build, or a replica waiting for another's migration lock.
            migrator = create_engine(settings.database_url, settings.database_schema)
            try:
                await upgrade_to_head(migrator, self.migrations, settings.database_schema)
            finally:
                await migrator.dispose()
        await self.broker.connect()
        await ensure_streams(self.broker.config.connection_state.stream, settings.stream_replicas)
        for resource in self.resources:
            await resource.start()
        await self.broker.start()
        # Every durable consumer exists once start returns, the batch consumers' too (their
        # loops would otherwise create them at their first pull, after the probes say live).
        for consumer in self.plumbing.batch_consumers:
            await consumer.bind()
        self._stop.clear()
        self._tasks = [asyncio.create_task(loop(self._stop)) for loop in self.background]
        for listener in self.listeners:
            await listener.start()
        log.info(
            "%s started; HTTP %s",
            self.name,
            ", ".join(f"{listener.name} on port {listener.port}" for listener in self.listeners),
        )

    async def stop(self) -> None:
        self._stop.set()
        # Side by side: each waits for its server's next tick (uvicorn checks every 0.1 s),
        # then for its open connections.
        await asyncio.gather(*(listener.stop() for listener in self.listeners))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Drains the connection: handlers in flight finish and acknowledge first. With NATS
        # unreachable there is nothing to drain into: what was not acknowledged comes back to
        # another replica after its ack wait, so the stop goes on (a Kubernetes pod being
        # replaced while NATS is down must not leave with a traceback or hang).
        try:
            await self.broker.stop()
        except (
            nats.errors.ConnectionReconnectingError,
            nats.errors.ConnectionClosedError,
        ) as error:
            log.warning(
                "%s: NATS unreachable while stopping (%s); unacknowledged messages will be "
                "redelivered",
                self.name,
                type(error).__name__,
            )
        for resource in reversed(self.resources):
            await resource.close()
        await self.plumbing.engine.dispose()
        # Sends the spans still queued, when an exporter is configured.
        self.plumbing.tracer_provider.shutdown()
        log.info("%s stopped", self.name)

    async def run_until_signalled(self) -> None:
        """Start, serve until SIGTERM or SIGINT, then stop cleanly."""
        stop_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop_requested.set)
        await self.start()
        try:
            await stop_requested.wait()
        finally:
            await self.stop()
