"""Provider status callbacks: ranked, so that a late or repeated callback never moves a
delivery's status backwards (they arrive out of order)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import contacts, deliveries, outbox
from services.notifier.domain.contact import Contact
from services.notifier.handlers.events import prompt_delivered, prompt_failed
from services.notifier.handlers.fallback import queue_fallback
from services.notifier.handlers.prompt_job import job_from_delivery
from shared.clock import Clock
from shared.contracts import Channel, Event, FailureReason
from shared.outbox import OutboxRelay, stage_events

# Twilio's message statuses by how far along they are; terminal ones share the top rank.
STATUS_RANK = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "read": 6,
}
OPTED_OUT_ERROR_CODES = {21610}


@dataclass(frozen=True)
class StatusDeps:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    relay: OutboxRelay
    wake_dispatcher: Callable[[], None]


async def apply_status(
    deps: StatusDeps, provider_message_id: str, state: str, error_code: int | None
) -> str:
    """Record a provider's status for a message; returns what happened."""
    rank = STATUS_RANK.get(state)
    if rank is None:
        return "unknown_status"
    now = deps.clock.now()
    async with deps.sessions() as session, session.begin():
        row = (
            await session.execute(
                select(deliveries)
                .where(deliveries.c.provider_message_id == provider_message_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return "unknown_message"
        if rank <= row.provider_state_rank:
            return "stale"
        values: dict[str, object] = {"provider_state": state, "provider_state_rank": rank}
        events: list[Event] = []
        job = job_from_delivery(row, row.due_event_id)
        channel = Channel(row.channel)
        if state == "delivered":
            values["delivered_at"] = now
            events.append(prompt_delivered(job, channel, now))
        elif state in ("undelivered", "failed"):
            opted_out = error_code in OPTED_OUT_ERROR_CODES
            reason = FailureReason.opted_out if opted_out else FailureReason.undelivered
            values |= {"failure_reason": reason.value, "provider_status": error_code}
            events.append(prompt_failed(job, channel, reason, row.attempts, now, error_code))
            contact_row = (
                await session.execute(select(contacts).where(contacts.c.member_id == row.member_id))
            ).first()
            if opted_out and channel is Channel.sms:
                await session.execute(
                    update(contacts)
                    .where(contacts.c.member_id == row.member_id)
                    .values(sms_opted_out_at=now)
                )
            if contact_row is not None:
                fallback, _ = Contact.from_row(contact_row, None).first_usable(after=channel)
                if fallback is not None:
                    await queue_fallback(session, row, fallback, now)
        await session.execute(update(deliveries).where(deliveries.c.id == row.id).values(**values))
        await stage_events(session, outbox, events, now)
    deps.relay.kick()
    deps.wake_dispatcher()  # a fallback may be queued
    return state
