"""Entry point: settings -> adapters -> handlers -> broker and HTTP. Nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.notifier.adapters.smtp_sender import EmailSender, SmtpSender
from services.notifier.adapters.tables import outbox
from services.notifier.adapters.templates import PromptTemplates
from services.notifier.api.app import create_api
from services.notifier.api.dependencies import ApiContext
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import EmailPolicy
from services.notifier.handlers.on_nudge_due import handle_nudge_due
from services.notifier.handlers.on_ritual_due import handle_ritual_due
from services.notifier.handlers.record_answer import AnswerDeps
from services.notifier.handlers.send_prompt import PromptDeps
from services.notifier.settings import NotifierSettings
from shared.clock import Clock
from shared.contracts import NudgeDueV1, RitualDueV1
from shared.entrypoint import run_service
from shared.http.server import HttpServer
from shared.messaging.consumer import ConsumerSpec, Delivery, EventConsumer, RetryPolicy
from shared.outbox import OutboxRelay
from shared.runtime import ServiceRuntime, build_plumbing

MIGRATIONS = Path(__file__).parent / "migrations"


def build_notifier(
    settings: NotifierSettings, clock: Clock, sender: EmailSender | None = None
) -> ServiceRuntime:
    plumbing = build_plumbing(settings)
    relay = OutboxRelay(outbox, plumbing.sessions, plumbing.publisher)
    signer = LinkSigner(settings.link_signing_key.get_secret_value().encode())
    prompts = PromptDeps(
        sessions=plumbing.sessions,
        sender=sender or SmtpSender(settings),
        templates=PromptTemplates(),
        signer=signer,
        policy=EmailPolicy(
            mail_from=settings.mail_from,
            message_id_domain=settings.message_id_domain,
            public_base_url=settings.public_base_url,
            late_answer_grace=timedelta(days=settings.late_answer_grace_days),
        ),
        clock=clock,
        relay=relay,
    )

    async def on_ritual_due(event: RitualDueV1, delivery: Delivery) -> str:
        return await handle_ritual_due(event, delivery, prompts)

    async def on_nudge_due(event: NudgeDueV1, delivery: Delivery) -> str:
        return await handle_nudge_due(event, delivery, prompts)

    retry = RetryPolicy(
        max_attempts=settings.max_send_attempts,
        base_delay_s=settings.retry_base_delay_s,
        max_delay_s=settings.retry_max_delay_s,
    )
    EventConsumer(
        ConsumerSpec("notifier-ritual-due", RitualDueV1, retry), on_ritual_due, plumbing.publisher
    ).subscribe(plumbing.broker)
    EventConsumer(
        ConsumerSpec("notifier-nudge-due", NudgeDueV1, retry), on_nudge_due, plumbing.publisher
    ).subscribe(plumbing.broker)

    answers = AnswerDeps(
        plumbing.sessions, clock, relay, settings.respondent_key_secret.get_secret_value().encode()
    )
    api = create_api(settings, ApiContext(answers=answers, signer=signer), plumbing.readiness())
    return ServiceRuntime(
        name="notifier",
        plumbing=plumbing,
        http=HttpServer(api, settings.http_host, settings.http_port),
        migrations=MIGRATIONS,
        background=[relay.run],
    )


def main(argv: list[str] | None = None) -> None:
    run_service("notifier", NotifierSettings, build_notifier, MIGRATIONS, argv)
