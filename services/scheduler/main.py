"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.scheduler.adapters.tables import outbox
from services.scheduler.api.app import create_api
from services.scheduler.api.dependencies import ApiContext
from services.scheduler.handlers.ticker import Ticker
from services.scheduler.settings import SchedulerSettings
from shared.clock import Clock
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.outbox import OutboxRelay
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"


def wire_scheduler(settings: SchedulerSettings, clock: Clock) -> tuple[ServiceRuntime, Ticker]:
    """The runtime, and its ticker for callers that drive or observe ticks (demo, tests)."""
    plumbing = build_plumbing(settings)
    relay = OutboxRelay(outbox, plumbing.sessions, plumbing.publisher)
    ticker = Ticker(
        plumbing.sessions, clock, relay, settings.tick_interval_s, settings.tick_batch_size
    )
    api = create_api(
        settings,
        ApiContext(plumbing.sessions, clock, settings.default_misfire_grace_s),
        plumbing.readiness(),
    )
    runtime = ServiceRuntime(
        name="scheduler",
        plumbing=plumbing,
        http=HttpServer(api, settings.http_host, settings.http_port),
        migrations=MIGRATIONS,
        background=[ticker.run, relay.run],
    )
    return runtime, ticker


def build_scheduler(settings: SchedulerSettings, clock: Clock) -> ServiceRuntime:
    return wire_scheduler(settings, clock)[0]


def main(argv: list[str] | None = None) -> None:
    run_service("scheduler", SchedulerSettings, build_scheduler, MIGRATIONS, argv)
