"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.insights.api.app import create_analyst_api, create_operator_api
from services.insights.handlers.on_response_received import (
    count_signposting,
    forget_respondent,
    store_response,
)
from services.insights.settings import InsightsSettings
from shared.clock import Clock
from shared.contracts import RespondentErasedV1, ResponseReceivedV1, SignpostingSentV1
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.messaging.consumer import ConsumerSpec, Delivery, EventConsumer
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"


def build_insights(settings: InsightsSettings, clock: Clock) -> ServiceRuntime:
    plumbing = build_plumbing(settings)

    async def on_response(event: ResponseReceivedV1, _delivery: Delivery) -> str:
        return await store_response(plumbing.sessions, event)

    async def on_erased(event: RespondentErasedV1, _delivery: Delivery) -> str:
        return await forget_respondent(plumbing.sessions, event)

    async def on_signposting(event: SignpostingSentV1, _delivery: Delivery) -> str:
        return await count_signposting(plumbing.sessions, event)

    EventConsumer(
        ConsumerSpec("insights-responses", ResponseReceivedV1), on_response, plumbing.publisher
    ).subscribe(plumbing.broker)
    EventConsumer(
        ConsumerSpec("insights-erasures", RespondentErasedV1), on_erased, plumbing.publisher
    ).subscribe(plumbing.broker)
    EventConsumer(
        ConsumerSpec("insights-signposting", SignpostingSentV1), on_signposting, plumbing.publisher
    ).subscribe(plumbing.broker)

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
    )


def main(argv: list[str] | None = None) -> None:
    run_service("insights", InsightsSettings, build_insights, MIGRATIONS, argv)
