"""A prompt (or nudge) -> one e-mail, exactly once per (send event, channel) however often the
event is redelivered.

Steps, each its own transaction so that the state on disk always says what happened:
1. look up contact and consent; record the delivery (or find it: a redelivery);
2. count the attempt, then hand the e-mail to the SMTP relay;
3. record the outcome and stage PromptSent / PromptFailed in the outbox.
A crash between 2 and 3 can send one duplicate (SMTP cannot be exactly-once); the Message-ID is
stable per delivery so mail systems can recognise it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.smtp_sender import EmailSender, SendFailed
from services.notifier.adapters.tables import contacts, deliveries, outbox
from services.notifier.adapters.templates import PromptTemplates, TemplateProblem
from services.notifier.domain.questions import ITEMS
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import EmailPolicy, compose_prompt
from services.notifier.handlers.prompt_job import PromptJob
from shared.clock import Clock
from shared.contracts import (
    Channel,
    FailureReason,
    PromptFailedV1,
    PromptSentV1,
    deterministic_event_id,
)
from shared.db import insert_ignoring_duplicates
from shared.messaging.consumer import Delivery, TransientError
from shared.outbox import OutboxRelay, stage_events

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclass(frozen=True)
class PromptDeps:
    sessions: async_sessionmaker[AsyncSession]
    sender: EmailSender
    templates: PromptTemplates
    signer: LinkSigner
    policy: EmailPolicy
    clock: Clock
    relay: OutboxRelay


def _failed(
    job: PromptJob,
    channel: Channel | None,
    reason: FailureReason,
    attempts: int,
    now: datetime,
    provider_status: int | None = None,
) -> PromptFailedV1:
    return PromptFailedV1(
        event_id=deterministic_event_id("prompt.failed", job.send_event_id),
        occurred_at=now,
        due_event_id=job.due_event_id,
        ritual_id=job.ritual_id,
        community_id=job.community_id,
        member_id=job.member_id,
        channel=channel,
        reason=reason,
        provider_status=provider_status,
        attempts=attempts,
        nudge_number=job.nudge_number,
    )


def _sent(job: PromptJob, channel: Channel, attempts: int, now: datetime) -> PromptSentV1:
    return PromptSentV1(
        event_id=deterministic_event_id(
            "prompt.sent", job.due_event_id, channel.value, job.nudge_number
        ),
        occurred_at=now,
        due_event_id=job.due_event_id,
        ritual_id=job.ritual_id,
        community_id=job.community_id,
        member_id=job.member_id,
        channel=channel,
        attempts=attempts,
        nudge_number=job.nudge_number,
        occurrence_at=job.occurrence_at,
        respond_by=job.respond_by,
    )


async def _finish(
    deps: PromptDeps,
    delivery_id: str,
    values: Mapping[str, object],
    event: PromptSentV1 | PromptFailedV1,
) -> None:
    async with deps.sessions() as session, session.begin():
        await session.execute(
            update(deliveries).where(deliveries.c.id == delivery_id).values(**values)
        )
        await stage_events(session, outbox, [event], deps.clock.now())
    deps.relay.kick()


async def send_prompt(job: PromptJob, delivery: Delivery, deps: PromptDeps) -> str:
    """Send one prompt or nudge; returns what happened (for logs and tests)."""
    channel = Channel.email
    delivery_id = job.delivery_id(channel)
    now = deps.clock.now()
    async with deps.sessions() as session, session.begin():
        contact = (
            await session.execute(select(contacts).where(contacts.c.member_id == job.member_id))
        ).first()
        reason: FailureReason | None = None
        if contact is None or not contact.email:
            reason = FailureReason.no_contact
        elif not contact.prompt_consent:
            reason = FailureReason.no_consent
        await insert_ignoring_duplicates(
            session,
            deliveries,
            [
                {
                    "id": delivery_id,
                    "due_event_id": job.send_event_id,
                    "channel": channel.value,
                    "member_id": job.member_id,
                    "community_id": job.community_id,
                    "ritual_id": job.ritual_id,
                    "ritual_kind": job.ritual_kind.value,
                    "template_key": job.template_key,
                    "item_key": job.item_key,
                    "occurrence_at": job.occurrence_at,
                    "occurrence_local_date": job.occurrence_local_date,
                    "respond_by": job.respond_by,
                    "timezone": job.timezone,
                    "nudge_number": job.nudge_number,
                    "answers_delivery_id": job.answers_delivery_id,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                }
            ],
        )
        row = (
            await session.execute(
                select(deliveries.c.status, deliveries.c.attempts)
                .where(deliveries.c.id == delivery_id)
                .with_for_update()
            )
        ).one()
        if row.status in (SENT, FAILED):
            return "duplicate"
        if reason is not None:
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(status=FAILED, failure_reason=reason.value)
            )
            await stage_events(session, outbox, [_failed(job, None, reason, 0, now)], now)
            deps.relay.kick()
            return reason.value
        attempts = row.attempts + 1
        await session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(status=SENDING, attempts=attempts)
        )
        assert contact is not None
        to_address, locale = contact.email, contact.locale

    try:
        message = compose_prompt(
            delivery_id=delivery_id,
            answer_delivery_id=job.answer_delivery_id(channel),
            to_address=to_address,
            locale=locale,
            template_key=job.template,
            item=ITEMS.get(job.item_key or ""),
            respond_by=job.respond_by,
            timezone=job.timezone,
            now=now,
            templates=deps.templates,
            signer=deps.signer,
            policy=deps.policy,
        )
    except TemplateProblem:
        failed = _failed(job, channel, FailureReason.template_error, attempts, now)
        values = {"status": FAILED, "failure_reason": failed.reason.value}
        await _finish(deps, delivery_id, values, failed)
        return FailureReason.template_error.value

    try:
        await deps.sender.send(message)
    except SendFailed as error:
        if error.permanent or delivery.is_last_attempt:
            reason = (
                FailureReason.rejected_permanently
                if error.permanent
                else FailureReason.retries_exhausted
            )
            failed = _failed(job, channel, reason, attempts, now, error.status)
            await _finish(
                deps,
                delivery_id,
                {"status": FAILED, "failure_reason": reason.value, "provider_status": error.status},
                failed,
            )
            if not error.permanent:
                # Recorded and reported; the consumer also moves the event to the dead letters.
                raise TransientError(f"SMTP {error.status}; attempts exhausted") from None
            return reason.value
        raise TransientError(f"SMTP {error.status}") from None

    sent = _sent(job, channel, attempts, deps.clock.now())
    await _finish(deps, delivery_id, {"status": SENT, "sent_at": sent.occurred_at}, sent)
    return SENT
