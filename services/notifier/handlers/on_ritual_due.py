"""RitualDue -> an e-mail prompt, exactly one per (due event, channel) however often redelivered.

Steps, each its own transaction so that the state on disk always says what happened:
1. look up contact and consent; record the delivery (or find it: a redelivery);
2. count the attempt, then hand the e-mail to the SMTP relay;
3. record the outcome and stage PromptSent / PromptFailed in the outbox.
A crash between 2 and 3 can send one duplicate (SMTP cannot be exactly-once); the Message-ID is
stable so mail systems can recognise it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.smtp_sender import EmailSender, SendFailed
from services.notifier.adapters.tables import contacts, deliveries, outbox
from services.notifier.adapters.templates import PromptTemplates, TemplateProblem
from services.notifier.domain.questions import item_for_template
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import EmailPolicy, compose_prompt
from shared.clock import Clock
from shared.contracts import (
    Channel,
    FailureReason,
    PromptFailedV1,
    PromptSentV1,
    RitualDueV1,
    deterministic_event_id,
)
from shared.db import insert_ignoring_duplicates
from shared.messaging.consumer import Delivery, TransientError
from shared.outbox import OutboxRelay, stage_events

log = logging.getLogger(__name__)

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


def delivery_id_for(due_event_id: str, channel: Channel) -> str:
    return deterministic_event_id("delivery", due_event_id, channel.value)


def _failed(
    event: RitualDueV1,
    channel: Channel | None,
    reason: FailureReason,
    attempts: int,
    now: datetime,
    provider_status: int | None = None,
) -> PromptFailedV1:
    return PromptFailedV1(
        event_id=deterministic_event_id("prompt.failed", event.event_id),
        occurred_at=now,
        due_event_id=event.event_id,
        ritual_id=event.ritual_id,
        community_id=event.community_id,
        member_id=event.member_id,
        channel=channel,
        reason=reason,
        provider_status=provider_status,
        attempts=attempts,
    )


async def _finish(
    deps: PromptDeps,
    delivery_id: str,
    values: dict[str, object],
    event: PromptSentV1 | PromptFailedV1,
) -> None:
    async with deps.sessions() as session, session.begin():
        await session.execute(
            update(deliveries).where(deliveries.c.id == delivery_id).values(**values)
        )
        await stage_events(session, outbox, [event], deps.clock.now())
    deps.relay.kick()


async def handle_ritual_due(event: RitualDueV1, delivery: Delivery, deps: PromptDeps) -> str:
    """Send the prompt for one due event; returns what happened (for logs and tests)."""
    channel = Channel.email
    delivery_id = delivery_id_for(event.event_id, channel)
    now = deps.clock.now()
    item = item_for_template(event.template_key)
    async with deps.sessions() as session, session.begin():
        contact = (
            await session.execute(select(contacts).where(contacts.c.member_id == event.member_id))
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
                    "due_event_id": event.event_id,
                    "channel": channel.value,
                    "member_id": event.member_id,
                    "community_id": event.community_id,
                    "ritual_id": event.ritual_id,
                    "ritual_kind": event.ritual_kind.value,
                    "template_key": event.template_key,
                    "item_key": item.key if item else None,
                    "occurrence_at": event.occurrence_at,
                    "occurrence_local_date": event.occurrence_local_date,
                    "respond_by": event.respond_by,
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
            await stage_events(session, outbox, [_failed(event, None, reason, 0, now)], now)
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
            to_address=to_address,
            locale=locale,
            template_key=event.template_key,
            item=item,
            respond_by=event.respond_by,
            timezone=event.timezone,
            now=now,
            templates=deps.templates,
            signer=deps.signer,
            policy=deps.policy,
        )
    except TemplateProblem:
        failed = _failed(event, channel, FailureReason.template_error, attempts, now)
        await _finish(
            deps, delivery_id, {"status": FAILED, "failure_reason": failed.reason.value}, failed
        )
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
            failed = _failed(event, channel, reason, attempts, now, error.status)
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

    sent = PromptSentV1(
        event_id=deterministic_event_id("prompt.sent", event.event_id, channel.value),
        occurred_at=deps.clock.now(),
        due_event_id=event.event_id,
        ritual_id=event.ritual_id,
        community_id=event.community_id,
        member_id=event.member_id,
        channel=channel,
        attempts=attempts,
    )
    await _finish(deps, delivery_id, {"status": SENT, "sent_at": sent.occurred_at}, sent)
    return SENT
