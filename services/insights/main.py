"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.insights.api.app import create_analyst_api, create_operator_api
from services.insights.handlers.erasures import (
    TombstoneReplay,
    forget_respondents,
    purge_tombstoned_facts,
)
from services.insights.handlers.facts import count_signposting, store_response
from services.insights.settings import InsightsSettings
from shared.clock import Clock
from shared.contracts import RespondentsErasedV2, ResponseReceivedV2, SignpostingSentV2
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.messaging.consumer import ConsumerSpec, Delivery, EventConsumer
from shared.periodic import every
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"
PURGE_INTERVAL = timedelta(minutes=5)


def build_insights(settings: InsightsSettings, clock: Clock) -> ServiceRuntime:
    plumbing = build_plumbing(settings)

    async def on_response(event: ResponseReceivedV2, _delivery: Delivery) -> str:
        return await store_response(plumbing.sessions, event)

    async def on_erased(event: RespondentsErasedV2, _delivery: Delivery) -> str:
        return await forget_respondents(plumbing.sessions, event)

    async def on_signposting(event: SignpostingSentV2, _delivery: Delivery) -> str:
        return await count_signposting(plumbing.sessions, event)

    EventConsumer(
        ConsumerSpec("insights-responses-v2", ResponseReceivedV2), on_response, plumbing.publisher
    ).subscribe(plumbing.broker)
    EventConsumer(
        ConsumerSpec("insights-erasures-v2", RespondentsErasedV2), on_erased, plumbing.publisher
    ).subscribe(plumbing.broker)
    EventConsumer(
        ConsumerSpec("insights-signposting-v2", SignpostingSentV2),
        on_signposting,
        plumbing.publisher,
    ).subscribe(plumbing.broker)
    tombstones = TombstoneReplay(
        plumbing.sessions, lambda: plumbing.broker.config.connection_state.stream
    )

    readiness = plumbing.readiness()
    operators = create_operator_api(settings, clock, readiness)
    analysts = create_analyst_api(settings, plumbing.sessions, clock, readiness)
    return ServiceRuntime(
        name="insights",
        plumbing=plumbing,
        listeners=[
            HttpServer(operators, settings.http_host, settings.http_port, "operators"),
            HttpServer(analysts, settings.http_host, settings.analyst_http_port, "analysts"),
        ],
        migrations=MIGRATIONS,
        background=[
            every(
                clock,
                PURGE_INTERVAL,
                lambda: purge_tombstoned_facts(plumbing.sessions),
                "tombstone purge",
            )
        ],
        resources=[tombstones],
    )


def main(argv: list[str] | None = None) -> None:
    run_service("insights", InsightsSettings, build_insights, MIGRATIONS, argv)
