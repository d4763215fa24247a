"""An answer from a signed link -> stored here; ResponseReceived for insights if consented.

Only the structured value leaves the notifier, keyed by a respondent key that insights cannot
turn back into a member id. The first answer to a delivery counts; later ones are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import answers, contacts, deliveries, outbox
from services.notifier.domain.pseudonyms import respondent_key
from services.notifier.domain.questions import ITEMS, Item
from shared.clock import Clock
from shared.contracts import (
    Event,
    PromptAnsweredV1,
    ResponseReceivedV1,
    RitualKind,
    deterministic_event_id,
)
from shared.db import insert_ignoring_duplicates
from shared.outbox import OutboxRelay, stage_events


class AnswerOutcome(StrEnum):
    recorded = "recorded"
    recorded_late = "recorded_late"
    already_answered = "already_answered"


class UnknownDelivery(LookupError):
    pass


class InvalidAnswer(ValueError):
    pass


@dataclass(frozen=True)
class AnswerDeps:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    relay: OutboxRelay
    respondent_secret: bytes


@dataclass(frozen=True)
class DeliveryQuestion:
    delivery_id: str
    item: Item


async def question_for(deps: AnswerDeps, delivery_id: str) -> DeliveryQuestion:
    async with deps.sessions() as session:
        item_key = (
            await session.execute(
                select(deliveries.c.item_key).where(deliveries.c.id == delivery_id)
            )
        ).scalar()
    if item_key is None or item_key not in ITEMS:
        raise UnknownDelivery(delivery_id)
    return DeliveryQuestion(delivery_id, ITEMS[item_key])


async def record_answer(deps: AnswerDeps, delivery_id: str, value: int) -> AnswerOutcome:
    now = deps.clock.now()
    async with deps.sessions() as session, session.begin():
        delivery = (
            await session.execute(select(deliveries).where(deliveries.c.id == delivery_id))
        ).first()
        if delivery is None or delivery.item_key not in ITEMS:
            raise UnknownDelivery(delivery_id)
        item = ITEMS[delivery.item_key]
        if item.option(value) is None:
            allowed = ", ".join(str(option.value) for option in item.options)
            raise InvalidAnswer(f"answer must be one of {allowed}")
        on_time = now <= delivery.respond_by
        inserted = await insert_ignoring_duplicates(
            session,
            answers,
            [
                {
                    "delivery_id": delivery_id,
                    "item_key": item.key,
                    "value": value,
                    "on_time": on_time,
                    "answered_at": now,
                }
            ],
        )
        if not inserted:
            return AnswerOutcome.already_answered
        # For the scheduler (stop nudging): every answer, with or without insights consent.
        events: list[Event] = [
            PromptAnsweredV1(
                event_id=deterministic_event_id("prompt.answered", delivery_id),
                occurred_at=now,
                due_event_id=delivery.due_event_id,
                ritual_id=delivery.ritual_id,
                community_id=delivery.community_id,
                member_id=delivery.member_id,
                on_time=on_time,
            )
        ]
        consented = (
            await session.execute(
                select(contacts.c.insights_consent).where(
                    contacts.c.member_id == delivery.member_id
                )
            )
        ).scalar()
        if consented:
            year, week, _ = delivery.occurrence_local_date.isocalendar()
            events.append(
                ResponseReceivedV1(
                    event_id=deterministic_event_id("response.received", delivery_id, item.key),
                    occurred_at=now,
                    respondent_key=respondent_key(delivery.member_id, deps.respondent_secret),
                    community_id=delivery.community_id,
                    ritual_id=delivery.ritual_id,
                    ritual_kind=RitualKind(delivery.ritual_kind),
                    iso_week=f"{year}-W{week:02d}",
                    item=item.key,
                    value=value,
                    on_time=on_time,
                )
            )
        await stage_events(session, outbox, events, now)
    deps.relay.kick()
    return AnswerOutcome.recorded if on_time else AnswerOutcome.recorded_late
