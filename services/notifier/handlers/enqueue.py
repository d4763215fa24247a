"""RitualDue / NudgeDue -> a queued delivery on the member's channel, or a recorded refusal.

The consumer only records; the dispatcher sends. So a redelivered event finds its row and
queues nothing twice, quiet hours are a ``not_before`` on the row (deferred, never dropped),
and retries run on the injected clock rather than on broker timers.

Two kinds of event are dropped without a trace: one about a member who was erased (a lagging
scheduler, a replayed dead letter; recording even a refusal would bring their id back), and one
older than the delivery ledger remembers (``retain_deliveries_days``: it could be a send that
already happened and was forgotten since).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import answers, contacts, deliveries, outbox
from services.notifier.domain.contact import Contact
from services.notifier.domain.quiet_hours import QuietHours, defer_until_quiet_hours_end
from services.notifier.handlers.events import prompt_failed
from services.notifier.handlers.members import is_erased
from services.notifier.handlers.prompt_job import PromptJob
from services.notifier.handlers.statuses import FAILED, QUEUED, SENT
from shared.clock import Clock
from shared.contracts import Channel, Event, FailureReason, NudgeDueV1, RitualDueV1
from shared.db import insert_ignoring_duplicates
from shared.outbox import stage_events


@dataclass(frozen=True)
class EnqueueDeps:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    default_quiet_hours: QuietHours | None
    wake_dispatcher: Callable[[], None]
    secret: bytes
    """The notifier's key (erased members are remembered by a keyed hash of their id)."""
    remember_for: timedelta = timedelta(days=90)
    """How long the delivery ledger keeps a send (``retain_deliveries_days``)."""


def not_before(now: datetime, timezone: str, contact: Contact) -> datetime:
    if contact.quiet_hours is None:
        return now
    return defer_until_quiet_hours_end(now, ZoneInfo(timezone), contact.quiet_hours)


async def enqueue_prompt(
    deps: EnqueueDeps, job: PromptJob, source_event: str, channel_hint: Channel | None = None
) -> str:
    now = deps.clock.now()
    if job.occurrence_at < now - deps.remember_for:
        return "older_than_the_ledger"
    async with deps.sessions() as session, session.begin():
        already = (
            await session.execute(
                select(deliveries.c.id).where(deliveries.c.due_event_id == job.send_event_id)
            )
        ).first()
        if already is not None:
            return "duplicate"
        row = (
            await session.execute(select(contacts).where(contacts.c.member_id == job.member_id))
        ).first()
        if row is None and await is_erased(session, job.member_id, deps.secret):
            return "erased"
        contact = Contact.from_row(row, deps.default_quiet_hours) if row else None
        channel: Channel | None = None
        reason: FailureReason | None = FailureReason.no_contact
        if contact is not None:
            if channel_hint is not None and contact.refusal(channel_hint) is None:
                channel = channel_hint
            else:
                channel, reason = contact.first_usable()
        record_channel = channel or (contact.preferred_channel if contact else Channel.email)
        values = {
            "id": job.delivery_id(record_channel),
            "due_event_id": job.send_event_id,
            "channel": record_channel.value,
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
            "attempts": 0,
            "created_at": now,
            "source_event": source_event,
        }
        events: list[Event] = []
        if channel is None or contact is None:
            assert reason is not None
            values |= {"status": FAILED, "failure_reason": reason.value}
            events.append(prompt_failed(job, None, reason, 0, now))
        else:
            values |= {"status": QUEUED, "not_before": not_before(now, job.timezone, contact)}
        inserted = await insert_ignoring_duplicates(session, deliveries, [values])
        if not inserted:
            return "duplicate"
        await stage_events(session, outbox, events, now)
    deps.wake_dispatcher()
    return "queued" if channel else str(values["failure_reason"])


async def enqueue_ritual_due(deps: EnqueueDeps, event: RitualDueV1) -> str:
    return await enqueue_prompt(deps, PromptJob.for_due(event), event.model_dump_json())


async def enqueue_nudge(deps: EnqueueDeps, event: NudgeDueV1) -> str:
    """A nudge goes the way its prompt went, unless the member has answered since."""
    async with deps.sessions() as session:
        original = (
            await session.execute(
                select(deliveries)
                .where(
                    (deliveries.c.due_event_id == event.due_event_id)
                    & (deliveries.c.status == SENT)
                )
                .order_by(deliveries.c.sent_at.desc())
            )
        ).first()
        if original is None:
            return "no_prompt_to_nudge"
        answered = (
            await session.execute(select(exists().where(answers.c.delivery_id == original.id)))
        ).scalar()
    if answered:
        return "already_answered"
    job = PromptJob.for_nudge(event, original)
    return await enqueue_prompt(deps, job, event.model_dump_json(), Channel(original.channel))
