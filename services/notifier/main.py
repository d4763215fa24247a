"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.notifier.adapters.channels import ChannelSenders
from services.notifier.adapters.rate_limit_store import rate_limiters
from services.notifier.adapters.sms.base import ManagedSmsSender
from services.notifier.adapters.sms.registry import configure_sms_provider
from services.notifier.adapters.smtp_sender import EmailSender, SmtpPool
from services.notifier.adapters.tables import outbox
from services.notifier.api.app import TemplateContext, create_operator_api, create_public_api
from services.notifier.api.dependencies import ApiContext
from services.notifier.api.webhooks import WebhookContext, sms_webhook_url, sms_webhooks
from services.notifier.domain.contact import parse_quiet_hours
from services.notifier.domain.distress import DistressRules
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import (
    EmailPolicy,
    TemplatedComposer,
    signed_preferences_url,
)
from services.notifier.handlers.consumers.enqueue import (
    EnqueueDeps,
    enqueue_nudge,
    enqueue_ritual_due,
    enqueue_ritual_dues,
)
from services.notifier.handlers.use_cases.provider_status import StatusDeps
from services.notifier.handlers.use_cases.record_answer import AnswerDeps
from services.notifier.handlers.workers.dispatcher import Dispatcher, DispatchPolicy
from services.notifier.handlers.workers.erasure_scrub import scrub_erased_members
from services.notifier.handlers.workers.insights_release import InsightsPolicy, release_closed_weeks
from services.notifier.handlers.workers.retention import RetentionPolicy, apply_retention
from services.notifier.handlers.workers.tombstones import release_tombstones
from services.notifier.metrics import NotifierMetrics
from services.notifier.settings import NotifierSettings
from services.notifier.templating import (
    PromptRenderer,
    RenderLimits,
    RenderPool,
    SqlStoredTemplates,
    StoredTemplates,
)
from services.notifier.templating.sandbox import SandboxLimits
from shared.clock import Clock
from shared.contracts import NudgeDueV1, RitualDueV1
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.messaging.consumer import (
    ConsumerSpec,
    Delivery,
    RetryPolicy,
)
from shared.outbox import OutboxRelay
from shared.periodic import every
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"
SCRUB_INTERVAL = timedelta(minutes=5)
TOMBSTONE_INTERVAL = timedelta(minutes=5)  # the daily batch leaves within this of 00:00 UTC
RELEASE_INTERVAL = timedelta(minutes=5)  # a week's facts leave within this of its close
DUE_BATCH = 500


def template_renderer(
    settings: NotifierSettings, store: StoredTemplates, clock: Clock
) -> tuple[PromptRenderer, RenderPool]:
    """The renderer and the pool of worker processes its operators' templates render in (a
    resource of the runtime: stopping the service stops them)."""
    pool = RenderPool(
        RenderLimits(
            sandbox=SandboxLimits(max_operations=settings.template_max_operations),
            workers=settings.template_workers,
            worker_memory_mb=settings.template_worker_memory_mb,
            render_timeout_s=settings.template_render_timeout_s,
            validation_timeout_s=settings.template_validation_timeout_s,
            validation_samples=settings.template_validation_samples,
            overrun_quarantine_s=settings.template_overrun_quarantine_s,
        ),
        clock,
    )
    renderer = PromptRenderer(
        store,
        sms_warn_segments=settings.sms_warn_segments,
        sms_max_segments=settings.sms_max_segments,
        pool=pool,
    )
    return renderer, pool


def wire_notifier(
    settings: NotifierSettings,
    clock: Clock,
    email: EmailSender | None = None,
    sms: ManagedSmsSender | None = None,
) -> tuple[ServiceRuntime, Dispatcher]:
    """The runtime, and its dispatcher for callers that observe sends (demo, tests)."""
    metrics = NotifierMetrics()
    plumbing = build_plumbing(settings, metrics)
    sessions = plumbing.sessions
    relay = OutboxRelay(outbox, sessions, plumbing.publisher)
    metrics.watch_outbox(relay.backlog)
    previous_key = settings.link_signing_previous_key
    signer = LinkSigner(
        settings.link_signing_key.get_secret_value().encode(),
        [previous_key.get_secret_value().encode()] if previous_key else [],
    )
    policy = EmailPolicy(
        mail_from=settings.mail_from,
        message_id_domain=settings.message_id_domain,
        public_base_url=settings.public_base_url,
        late_answer_grace=timedelta(days=settings.late_answer_grace_days),
    )
    email_sender = email or SmtpPool(settings)
    sms_provider = configure_sms_provider(settings, clock)
    sms_sender = sms or sms_provider.sender
    base = settings.public_base_url.rstrip("/")
    template_store = SqlStoredTemplates(sessions)
    renderer, render_pool = template_renderer(settings, template_store, clock)
    composer = TemplatedComposer(renderer, signer, policy)
    quiet = parse_quiet_hours(settings.default_quiet_hours)
    dispatcher = Dispatcher(
        sessions=sessions,
        clock=clock,
        senders=ChannelSenders(
            email_sender,
            sms_sender,
            sms_webhook_url(base, sms_provider, "status"),
            sms_provider.name,
        ),
        composer=composer,
        relay=relay,
        limiters=rate_limiters(settings, sessions, clock),
        default_quiet_hours=quiet,
        policy=DispatchPolicy(
            batch_size=settings.dispatch_batch_size,
            lease=timedelta(seconds=settings.dispatch_lease_s),
            retry=RetryPolicy(
                max_attempts=settings.max_send_attempts,
                base_delay_s=settings.retry_base_delay_s,
                max_delay_s=settings.retry_max_delay_s,
            ),
            max_in_doubt=settings.max_in_doubt,
        ),
        interval_s=settings.dispatch_interval_s,
        metrics=metrics,
    )
    secret = settings.respondent_key_secret.get_secret_value().encode()
    insights = InsightsPolicy(
        secret,
        timedelta(days=settings.insights_week_close_after_days),
        lookback=timedelta(days=settings.retain_deliveries_days),
    )
    enqueue = EnqueueDeps(
        sessions,
        clock,
        quiet,
        dispatcher.kick,
        secret,
        remember_for=timedelta(days=settings.retain_deliveries_days),
    )

    async def on_ritual_due(event: RitualDueV1, _delivery: Delivery) -> str:
        result = await enqueue_ritual_due(enqueue, event)
        metrics.enqueued([result])
        return result

    async def on_ritual_dues(events: list[RitualDueV1]) -> list[str]:
        results = await enqueue_ritual_dues(enqueue, events)
        metrics.enqueued(results)
        return results

    async def on_nudge_due(event: NudgeDueV1, _delivery: Delivery) -> str:
        result = await enqueue_nudge(enqueue, event)
        metrics.enqueued([result])
        return result

    # Due events come in thousands at 09:00 on a Monday: a batch a transaction, taken in only
    # while the dispatcher keeps up (the rest wait in the stream: send_backlog).
    ritual_dues = plumbing.consume_batches(
        ConsumerSpec("notifier-ritual-due", RitualDueV1, batch_size=DUE_BATCH),
        on_ritual_due,
        on_ritual_dues,
        room_for_more=dispatcher.backlog.room_for_more,
    )
    plumbing.consume(ConsumerSpec("notifier-nudge-due", NudgeDueV1), on_nudge_due)

    answers = AnswerDeps(
        sessions,
        clock,
        relay,
        distress=DistressRules.build(
            settings.distress_answers, settings.distress_words, settings.support_message
        ),
    )

    async def service_texts(key: str, locale: str) -> str:
        return await composer.service_text(key, locale, "UTC", clock.now())

    def preferences_link(member_id: str) -> str:
        return signed_preferences_url(signer, settings.public_base_url, member_id, clock.now())

    retention = RetentionPolicy(
        deliveries=timedelta(days=settings.retain_deliveries_days),
        inbound_messages=timedelta(days=settings.retain_inbound_messages_days),
    )
    webhook_context = WebhookContext(
        sms_providers=sms_webhooks(sms_provider),
        public_base_url=settings.public_base_url,
        trust_forwarded_headers=settings.trust_forwarded_headers,
        statuses=StatusDeps(sessions, clock, relay, dispatcher.kick),
        answers=answers,
        reply_sender=sms_sender,
        texts=service_texts,
        phone_region=settings.sms_default_region,
        preferences_link=preferences_link,
    )
    api_context = ApiContext(
        answers=answers,
        signer=signer,
        secret=secret,
        phone_region=settings.sms_default_region,
        scrub_delay=timedelta(minutes=settings.erasure_scrub_delay_minutes),
    )
    readiness = plumbing.readiness()
    operators = create_operator_api(
        settings, api_context, TemplateContext(renderer, template_store, clock), readiness
    )
    public = create_public_api(settings, api_context, webhook_context, readiness)
    runtime = ServiceRuntime(
        name="notifier",
        plumbing=plumbing,
        listeners=[
            HttpServer(operators, settings.http_host, settings.http_port, "operators"),
            HttpServer(public, settings.http_host, settings.public_http_port, "public"),
        ],
        migrations=MIGRATIONS,
        background=[
            relay.run,
            ritual_dues.run,
            dispatcher.run,
            every(
                clock,
                timedelta(hours=1),
                lambda: apply_retention(sessions, clock.now(), retention),
                "retention",
            ),
            every(
                clock,
                RELEASE_INTERVAL,
                lambda: release_closed_weeks(sessions, insights, clock, relay),
                "insights release",
            ),
            every(
                clock,
                TOMBSTONE_INTERVAL,
                lambda: release_tombstones(sessions, secret, clock, relay),
                "tombstone release",
            ),
            every(
                clock,
                SCRUB_INTERVAL,
                lambda: scrub_erased_members(
                    sessions, lambda: plumbing.broker.config.connection_state.stream, clock
                ),
                "erasure scrub",
            ),
        ],
        resources=[email_sender, sms_sender, render_pool],
    )
    return runtime, dispatcher


def build_notifier(settings: NotifierSettings, clock: Clock) -> ServiceRuntime:
    return wire_notifier(settings, clock)[0]


def main(argv: list[str] | None = None) -> None:
    run_service("notifier", NotifierSettings, build_notifier, MIGRATIONS, argv)
