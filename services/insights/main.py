"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from services.insights.api.app import create_analyst_api, create_operator_api
from services.insights.handlers.areas import record_closed_week, record_community
from services.insights.handlers.erasures import (
    TombstoneReplay,
    forget_respondents,
    purge_tombstoned_facts,
)
from services.insights.handlers.facts import store_fact, store_facts
from services.insights.handlers.release import ReleaseOutcome
from services.insights.handlers.release_job import consumers_caught_up, release_closed_windows
from services.insights.metrics import InsightsMetrics
from services.insights.settings import InsightsSettings
from shared.clock import Clock
from shared.contracts import (
    CommunityChangedV1,
    PeriodSummaryV1,
    PromptedV1,
    RespondentsErasedV2,
    ResponseReceivedV2,
    SignpostingSentV2,
    WeekClosedV1,
)
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.messaging.consumer import (
    ConsumerSpec,
    Delivery,
)
from shared.periodic import every
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"
PURGE_INTERVAL = timedelta(minutes=5)
RELEASE_INTERVAL = timedelta(minutes=5)  # and at once when a WeekClosed arrives
FACT_BATCH = 500
# Batches of facts stored at once, each in its own transaction, while the next is pulled: the
# ingest waited ~30% of its time for one commit. Facts are insert-if-absent (order does not
# matter) and each is checked against the tombstones as it is stored, with the periodic purge
# settling a fact and its tombstone stored in the same instant, as between the facts' and the
# erasures' consumers already. SQLite serialises writers: one there.
FACT_STORES_IN_FLIGHT = 3


def fact_stores_in_flight(database_url: str) -> int:
    return 1 if database_url.startswith("sqlite") else FACT_STORES_IN_FLIGHT


def build_insights(settings: InsightsSettings, clock: Clock) -> ServiceRuntime:
    metrics = InsightsMetrics()
    plumbing = build_plumbing(settings, metrics)
    sessions = plumbing.sessions

    def jetstream() -> JetStreamContext:
        js: JetStreamContext = plumbing.broker.config.connection_state.stream
        return js

    closed = asyncio.Event()  # a WeekClosed arrived: try to release at once

    async def week_closed(event: WeekClosedV1) -> str:
        outcome = await record_closed_week(sessions, event)
        closed.set()
        return outcome

    # Facts come in thousands at each weekly release: a batch a transaction.
    facts = (
        ("insights-responses-v2", ResponseReceivedV2),
        ("insights-signposting-v2", SignpostingSentV2),
        ("insights-prompted-v1", PromptedV1),
        ("insights-periods-v1", PeriodSummaryV1),
    )
    fact_consumers = [
        plumbing.consume_batches(
            ConsumerSpec(
                durable,
                model,
                batch_size=FACT_BATCH,
                stores_in_flight=fact_stores_in_flight(settings.database_url),
            ),
            _ignoring_delivery(partial(store_fact, sessions)),
            partial(store_facts, sessions),
        )
        for durable, model in facts
    ]
    others: list[tuple[str, type[Any], Callable[[Any], Awaitable[str]]]] = [
        ("insights-erasures-v2", RespondentsErasedV2, partial(forget_respondents, sessions)),
        ("insights-communities-v1", CommunityChangedV1, partial(record_community, sessions)),
        ("insights-week-closed-v1", WeekClosedV1, week_closed),
    ]
    for durable, model, handle in others:
        plumbing.consume(ConsumerSpec(durable, model), _ignoring_delivery(handle))

    policy = settings.release_policy()
    metrics.watch_releases(sessions, policy, clock)
    caught_up = consumers_caught_up(jetstream, tuple(durable for durable, _ in facts))

    async def release() -> list[ReleaseOutcome]:
        outcomes = await release_closed_windows(sessions, policy, clock, caught_up)
        metrics.released(outcomes)
        return outcomes

    readiness = plumbing.readiness()
    operators = create_operator_api(settings, sessions, clock, readiness, metrics.released)
    analysts = create_analyst_api(settings, sessions, clock, readiness)
    return ServiceRuntime(
        name="insights",
        plumbing=plumbing,
        listeners=[
            HttpServer(operators, settings.http_host, settings.http_port, "operators"),
            HttpServer(analysts, settings.http_host, settings.analyst_http_port, "analysts"),
        ],
        migrations=MIGRATIONS,
        background=[
            *(consumer.run for consumer in fact_consumers),
            every(clock, PURGE_INTERVAL, partial(purge_tombstoned_facts, sessions), "purge"),
            every(clock, RELEASE_INTERVAL, release, "release", kick=closed),
        ],
        resources=[TombstoneReplay(sessions, jetstream)],
    )


def _ignoring_delivery(
    handle: Callable[[Any], Awaitable[str]],
) -> Callable[[Any, Delivery], Awaitable[str]]:
    async def handler(event: Any, _delivery: Delivery) -> str:
        return await handle(event)

    return handler


def main(argv: list[str] | None = None) -> None:
    run_service("insights", InsightsSettings, build_insights, MIGRATIONS, argv)
