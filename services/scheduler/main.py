"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.scheduler.adapters.tables import outbox
from services.scheduler.api.app import create_api
from services.scheduler.api.dependencies import ApiContext
from services.scheduler.handlers.emit_due import EmissionPolicy
from services.scheduler.handlers.erasure import ErasureReplay, on_member_erased
from services.scheduler.handlers.member_choices import on_member_ritual_choice
from services.scheduler.handlers.nudges import (
    on_prompt_answered,
    on_prompt_sent,
    on_prompts_sent,
)
from services.scheduler.handlers.ticker import Ticker
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.settings import SchedulerSettings
from shared.clock import Clock
from shared.contracts import (
    MemberErasedV1,
    MemberRitualChoiceV1,
    PromptAnsweredV1,
    PromptSentV1,
)
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.messaging.consumer import (
    ConsumerSpec,
    Delivery,
)
from shared.outbox import OutboxRelay
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"
PROMPT_SENT_BATCH = 500


def wire_scheduler(settings: SchedulerSettings, clock: Clock) -> tuple[ServiceRuntime, Ticker]:
    """The runtime, and its ticker for callers that drive or observe ticks (demo, tests)."""
    metrics = SchedulerMetrics()
    plumbing = build_plumbing(settings, metrics)
    sessions = plumbing.sessions
    relay = OutboxRelay(outbox, sessions, plumbing.publisher)
    metrics.watch_outbox(relay.backlog)
    emission = EmissionPolicy(
        batch_size=settings.tick_batch_size, late_after=timedelta(seconds=settings.late_after_s)
    )
    ticker = Ticker(
        sessions,
        clock,
        relay,
        settings.tick_interval_s,
        emission,
        metrics.ticked,
        publisher=plumbing.publisher,
    )

    async def prompt_sent(event: PromptSentV1, _delivery: Delivery) -> str:
        return await on_prompt_sent(sessions, event)

    async def prompts_sent(events: list[PromptSentV1]) -> list[str]:
        return await on_prompts_sent(sessions, events)

    async def prompt_answered(event: PromptAnsweredV1, _delivery: Delivery) -> str:
        return await on_prompt_answered(sessions, event)

    # A prompt is sent for every due occurrence: at 09:00 on a Monday, thousands a second.
    prompts = plumbing.consume_batches(
        ConsumerSpec("scheduler-prompt-sent", PromptSentV1, batch_size=PROMPT_SENT_BATCH),
        prompt_sent,
        prompts_sent,
    )
    plumbing.consume(ConsumerSpec("scheduler-prompt-answered", PromptAnsweredV1), prompt_answered)

    async def member_erased(event: MemberErasedV1, _delivery: Delivery) -> str:
        return await on_member_erased(sessions, event)

    plumbing.consume(ConsumerSpec("scheduler-member-erased", MemberErasedV1), member_erased)

    async def member_ritual_choice(event: MemberRitualChoiceV1, _delivery: Delivery) -> str:
        return await on_member_ritual_choice(sessions, event, clock.now())

    plumbing.consume(
        ConsumerSpec("scheduler-member-ritual-choice", MemberRitualChoiceV1), member_ritual_choice
    )

    api = create_api(
        settings,
        ApiContext(
            sessions=sessions,
            clock=clock,
            relay=relay,
            emission=emission,
            default_misfire_grace=timedelta(seconds=settings.default_misfire_grace_s),
            min_prompt_interval=timedelta(minutes=settings.min_prompt_interval_minutes),
        ),
        plumbing.readiness(),
    )
    runtime = ServiceRuntime(
        name="scheduler",
        plumbing=plumbing,
        listeners=[HttpServer(api, settings.http_host, settings.http_port, "operators")],
        migrations=MIGRATIONS,
        background=[ticker.run, relay.run, prompts.run],
        resources=[ErasureReplay(sessions, lambda: plumbing.broker.config.connection_state.stream)],
    )
    return runtime, ticker


def build_scheduler(settings: SchedulerSettings, clock: Clock) -> ServiceRuntime:
    return wire_scheduler(settings, clock)[0]


def main(argv: list[str] | None = None) -> None:
    run_service("scheduler", SchedulerSettings, build_scheduler, MIGRATIONS, argv)
