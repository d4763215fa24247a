"""RitualDue / NudgeDue -> a queued delivery on the member's channel, or a recorded refusal.

The consumer only records; the dispatcher sends. So a redelivered event finds its row and
queues nothing twice, quiet hours are a ``not_before`` on the row (deferred, never dropped),
and retries run on the injected clock rather than on broker timers. Due events arrive in
thousands at once (every member's ritual at 09:00 on Monday): a batch of them is recorded in
one transaction, with one query for the rows that exist and one for the members' contacts.

Two kinds of event are dropped without a trace: one about a member who was erased (a lagging
scheduler, a replayed dead letter; recording even a refusal would bring their id back), and one
older than the delivery ledger remembers (``retain_deliveries_days``: it could be a send that
already happened and was forgotten since).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.ritual_slots import learn_time_slots
from services.notifier.adapters.tables import outbox
from services.notifier.domain.contact import Contact
from services.notifier.domain.delivery import DeliveryStatus
from services.notifier.domain.events import prompt_failed
from services.notifier.domain.prompt_job import PromptJob
from services.notifier.domain.quiet_hours import QuietHours, defer_until_quiet_hours_end
from services.notifier.handlers.use_cases.members import erased_among
from shared.clock import Clock
from shared.contracts import Channel, Event, FailureReason, NudgeDueV1, RitualDueV1
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


@dataclass(frozen=True)
class SendRequest:
    job: PromptJob
    source_event: str  # the event as received, for the dead letters
    channel_hint: Channel | None = None  # a nudge goes the way its prompt went


def not_before(now: datetime, timezone: str, contact: Contact) -> datetime:
    if contact.quiet_hours is None:
        return now
    return defer_until_quiet_hours_end(now, ZoneInfo(timezone), contact.quiet_hours)


def _channel_for(
    request: SendRequest, contact: Contact | None
) -> tuple[Channel | None, FailureReason]:
    """The channel to queue on, or None and the reason none may be used."""
    if contact is None:
        return None, FailureReason.no_contact
    hint = request.channel_hint
    if hint is not None and contact.refusal(hint) is None:
        return hint, FailureReason.no_contact  # the reason is not used
    return contact.first_usable()


def _row(
    request: SendRequest, contact: Contact | None, now: datetime
) -> tuple[dict[str, Any], Event | None]:
    job = request.job
    channel, reason = _channel_for(request, contact)
    record_channel = channel or (contact.preferred_channel if contact else Channel.email)
    row: dict[str, Any] = {
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
        "provider_state_rank": 0,
        "created_at": now,
        "source_event": request.source_event,
    }
    if channel is None or contact is None:
        row |= {"status": DeliveryStatus.failed.value, "failure_reason": reason.value}
        return row, prompt_failed(job, None, reason, 0, now)
    row |= {
        "status": DeliveryStatus.queued.value,
        "not_before": not_before(now, job.timezone, contact),
    }
    return row, None


async def enqueue_sends(
    deps: EnqueueDeps,
    requests: Sequence[SendRequest],
    also: Callable[[AsyncSession, datetime], Awaitable[None]] | None = None,
) -> list[str]:
    """Record each request's delivery (queued, or failed with the reason); one transaction,
    in which ``also`` runs too. Returns what happened to each, in order."""
    now = deps.clock.now()
    results = ["older_than_the_ledger"] * len(requests)
    fresh = [
        (n, r) for n, r in enumerate(requests) if r.job.occurrence_at >= now - deps.remember_for
    ]
    rows: list[dict[str, Any]] = []
    events: list[Event] = []
    async with deps.sessions() as session, session.begin():
        deliveries = Deliveries(session)
        recorded = await deliveries.recorded_sends({r.job.send_event_id for _, r in fresh})
        contacts = await Contacts(session, deps.default_quiet_hours).get_many(
            {r.job.member_id for _, r in fresh}
        )
        erased = await erased_among(
            session, {r.job.member_id for _, r in fresh} - contacts.keys(), deps.secret
        )
        for n, request in fresh:
            job = request.job
            if job.send_event_id in recorded:
                results[n] = "duplicate"
                continue
            if job.member_id in erased:
                results[n] = "erased"
                continue
            recorded.add(job.send_event_id)  # the same event twice in one batch
            row, event = _row(request, contacts.get(job.member_id), now)
            rows.append(row)
            events.extend([event] if event else [])
            results[n] = "queued" if event is None else row["failure_reason"]
        if rows:
            await deliveries.add_new(rows)
            await stage_events(session, outbox, events, now)
        if also is not None:
            await also(session, now)
    if rows:
        deps.wake_dispatcher()
    return results


async def enqueue_ritual_dues(deps: EnqueueDeps, events: Sequence[RitualDueV1]) -> list[str]:
    """Their deliveries, and the time slots their rituals offer (for the preferences page)."""

    async def learn(session: AsyncSession, now: datetime) -> None:
        await learn_time_slots(session, events, now)

    return await enqueue_sends(
        deps, [SendRequest(PromptJob.for_due(e), e.model_dump_json()) for e in events], learn
    )


async def enqueue_ritual_due(deps: EnqueueDeps, event: RitualDueV1) -> str:
    (result,) = await enqueue_ritual_dues(deps, [event])
    return result


async def enqueue_nudge(deps: EnqueueDeps, event: NudgeDueV1) -> str:
    """A nudge goes the way its prompt went, unless the member has answered since."""
    async with deps.sessions() as session:
        deliveries = Deliveries(session)
        original = await deliveries.sent_for(event.due_event_id)
        if original is None:
            return "no_prompt_to_nudge"
        if await deliveries.answered([original.id]):
            return "already_answered"
    job = PromptJob.for_nudge(event, original)
    request = SendRequest(job, event.model_dump_json(), original.channel)
    (result,) = await enqueue_sends(deps, [request])
    return result
