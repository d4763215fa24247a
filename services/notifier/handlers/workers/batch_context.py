"""What deciding a batch's sends needs from the database, read in one go: the members'
contacts, which prompts have been answered, the original RitualDue of each nudge, and which
rituals the members have paused or stopped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.domain.contact import Contact
from services.notifier.domain.delivery import Delivery
from services.notifier.domain.quiet_hours import QuietHours


@dataclass(frozen=True)
class BatchContext:
    contacts: dict[str, Contact]
    answered: set[str]  # delivery ids with an answer
    due_events: dict[str, str]  # a nudge's original delivery id -> its RitualDue
    # (member, ritual) pairs the member paused or stopped: not sent, whatever the scheduler
    # emitted before it heard of the choice (defence in depth).
    held: set[tuple[str, str]] = field(default_factory=set)

    def is_held(self, delivery: Delivery) -> bool:
        return (delivery.member_id, delivery.ritual_id) in self.held

    def is_answered(self, delivery: Delivery) -> bool:
        """A nudge whose prompt has been answered is not sent."""
        return bool(delivery.answers_delivery_id and delivery.answers_delivery_id in self.answered)

    def ritual_due_id(self, delivery: Delivery) -> str:
        original = delivery.answers_delivery_id
        if delivery.is_nudge and original is not None:
            return self.due_events.get(original, delivery.due_event_id)
        return delivery.due_event_id


async def read_context(
    sessions: async_sessionmaker[AsyncSession],
    batch: Sequence[Delivery],
    default_quiet_hours: QuietHours | None,
) -> BatchContext:
    originals = {d.answers_delivery_id for d in batch if d.answers_delivery_id}
    async with sessions() as session:
        deliveries = Deliveries(session)
        contacts = Contacts(session, default_quiet_hours)
        return BatchContext(
            contacts=await contacts.get_many({d.member_id for d in batch}),
            answered=await deliveries.answered(originals) if originals else set(),
            due_events=await deliveries.due_event_ids_of(
                {d.answers_delivery_id for d in batch if d.is_nudge and d.answers_delivery_id}
            ),
            held=await contacts.held_rituals({(d.member_id, d.ritual_id) for d in batch}),
        )
