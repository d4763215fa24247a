"""Prometheus metrics of one service runtime, served at ``/metrics`` on its operators' listener.

Each runtime has its own ``CollectorRegistry``, never the process-wide default: the demo and
the tests run several services (and several replicas of one) in one process, and each must
expose only its own series.

Labels are bounded sets (subjects, streams, durable names, channels, failure codes, community
ids): never a member id, an address or anything else personal (``shared/subjects.py``: subjects
never name a member).

Gauges that describe shared state (consumer lag, outbox backlog) are sampled when scraped, with
a deadline, so a scrape shows the state now and costs nothing between scrapes; a sample that
fails (NATS or the database down) leaves the previous value and counts a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from shared import subjects
from shared.streams import ALL_STREAMS
from shared.subjects import DEAD_LETTER_PREFIX

log = logging.getLogger(__name__)

Sampler = Callable[[], Awaitable[None]]
# Every event subject (``shared.subjects``): the dead-letter series exist from the start, at 0,
# so an alert on their increase sees the first dead letter too.
EVENT_SUBJECTS = tuple(
    value
    for name, value in vars(subjects).items()
    if name.isupper() and isinstance(value, str) and value != DEAD_LETTER_PREFIX
)
SAMPLE_TIMEOUT_S = 3.0  # a scrape must answer well within Prometheus's default 10 s timeout


class ServiceMetrics:
    """The series every service has; services add theirs in a subclass (``<service>/metrics``)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._samplers: list[tuple[str, Sampler]] = []
        self.dead_letters = Counter(
            "rituals_dead_letters",
            "Messages moved to the dead letters, by their original subject.",
            ["subject"],
            registry=self.registry,
        )
        for subject in EVENT_SUBJECTS:
            self.dead_letters.labels(subject=subject)
        self.consumer_lag = Gauge(
            "rituals_consumer_lag",
            "Messages in the stream not yet delivered to this service's durable consumer "
            "(JetStream num_pending), sampled at scrape.",
            ["stream", "consumer"],
            registry=self.registry,
        )
        self.consumer_ack_pending = Gauge(
            "rituals_consumer_ack_pending",
            "Messages delivered to this service's durable consumer and not acknowledged yet, "
            "sampled at scrape.",
            ["stream", "consumer"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "rituals_outbox_backlog",
            "Events staged in the service's outbox and not yet published, sampled at scrape.",
            ["service"],
            registry=self.registry,
        )
        self.published_events = Counter(
            "rituals_published_total",
            "Messages the stream acknowledged, by subject (events from the outbox, dead "
            "letters, direct publishes).",
            ["subject"],
            registry=self.registry,
        )
        self.sample_failures = Counter(
            "rituals_metrics_sample_failures",
            "Scrape-time samples that failed (NATS or the database did not answer in time).",
            ["sample"],
            registry=self.registry,
        )

    def broker_middleware(self) -> NatsPrometheusMiddleware:
        """FastStream's own series (``faststream_*``: received, processed, published, by
        subject) into this runtime's registry."""
        return NatsPrometheusMiddleware(registry=self.registry, app_name=self.service)

    def published(self, subject: str, count: int = 1) -> None:
        """Called for every publish the stream acknowledged (``JetStreamPublisher``): a dead
        letter is counted once it is stored, whoever dead-lettered it (a consumer, or the
        notifier's dispatcher through its outbox)."""
        self.published_events.labels(subject=subject).inc(count)
        prefix = f"{DEAD_LETTER_PREFIX}."
        if subject.startswith(prefix):
            self.dead_letters.labels(subject=subject.removeprefix(prefix)).inc(count)

    def add_sampler(self, name: str, sampler: Sampler) -> None:
        self._samplers.append((name, sampler))

    def watch_consumers(self, jetstream: Callable[[], JetStreamContext]) -> None:
        """Sample the lag of every durable consumer this service owns: by convention their
        names start with the service's name (``notifier-ritual-due``)."""
        prefix = f"{self.service}-"

        async def sample() -> None:
            js = jetstream()
            for stream in ALL_STREAMS:
                try:
                    consumers = await js.consumers_info(stream.name)
                except NotFoundError:  # not declared yet (a scrape during start-up)
                    continue
                for info in consumers:
                    name = info.name or ""
                    if not name.startswith(prefix):
                        continue
                    self.consumer_lag.labels(stream=stream.name, consumer=name).set(
                        info.num_pending or 0
                    )
                    self.consumer_ack_pending.labels(stream=stream.name, consumer=name).set(
                        info.num_ack_pending or 0
                    )

        self.add_sampler("consumer_lag", sample)

    def watch_outbox(self, backlog: Callable[[], Awaitable[int]]) -> None:
        async def sample() -> None:
            self.outbox_backlog.labels(service=self.service).set(await backlog())

        self.add_sampler("outbox_backlog", sample)

    async def sample(self, timeout_s: float = SAMPLE_TIMEOUT_S) -> None:
        """Run every sampler side by side, each under ``timeout_s``."""

        async def one(name: str, sampler: Sampler) -> None:
            try:
                await asyncio.wait_for(sampler(), timeout=timeout_s)
            except Exception as error:  # the previous value stays; the scrape still answers
                self.sample_failures.labels(sample=name).inc()
                log.debug("metrics sample %s failed: %s", name, type(error).__name__)

        await asyncio.gather(*(one(name, sampler) for name, sampler in self._samplers))

    async def exposition(self) -> bytes:
        await self.sample()
        return generate_latest(self.registry)

    def router(self) -> APIRouter:
        """``GET /metrics`` in Prometheus's text format. No token: it carries no personal data
        and no record, only counts; keep it, like the operators' listener, inside the cluster."""
        router = APIRouter(tags=["metrics"])

        @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(await self.exposition(), media_type=CONTENT_TYPE_LATEST)

        return router
