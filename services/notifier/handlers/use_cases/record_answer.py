"""Answers (from the e-mail form or an SMS reply) -> stored here; events out.

* PromptAnswered for every answer, so the scheduler stops nudging (no values in it);
* when the operator's distress rule matches, a record that support was sent (``signposts``),
  and the caller replies with the support resources at once, whatever the member's consent.
What insights learns of it, and only for consenting members, leaves when the week closes
(``insights_release``), never next to the PromptAnswered. The first answer to an item of a
delivery counts; a repeated one is ignored. A member who was erased can no longer answer: their
deliveries went with them. Answers are checked against what the channel they came through asks:
the e-mail form may answer the week's form-only items (WHO-5), an SMS reply may not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.tables import answers, outbox, signposts
from services.notifier.domain.delivery import Delivery
from services.notifier.domain.distress import DistressRules
from services.notifier.domain.questionnaire import ITEMS, Item, Questionnaire, questionnaire_for
from shared.clock import Clock
from shared.contracts import Channel, PromptAnsweredV1, deterministic_event_id
from shared.db import insert_ignoring_duplicates
from shared.outbox import OutboxRelay, stage_events
from shared.weeks import iso_week_of

RITUAL_KEPT = "ritual_kept"  # yes/no to a reminder ("did you manage to reach out?")


class AnswerOutcome(StrEnum):
    recorded = "recorded"
    recorded_late = "recorded_late"
    already_answered = "already_answered"


class UnknownDelivery(LookupError):
    pass


class InvalidAnswer(ValueError):
    """The message says what is expected, never what was sent."""


def questionnaire_of(delivery: Delivery, channel: Channel) -> Questionnaire | None:
    """The questions a delivery asks through ``channel`` (the one an answer comes through: a
    nudge's SMS may answer an e-mail prompt): its template's module for the occurrence's week."""
    return questionnaire_for(delivery.template_key, delivery.occurrence_local_date, channel)


def items_of(delivery: Delivery, channel: Channel) -> Mapping[str, Item]:
    questionnaire = questionnaire_of(delivery, channel)
    return {item.key: item for item in questionnaire.items} if questionnaire else {}


@dataclass(frozen=True)
class AnswerDeps:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    relay: OutboxRelay
    distress: DistressRules | None = None


@dataclass(frozen=True)
class AnswerResult:
    outcome: AnswerOutcome
    signpost: bool


@dataclass(frozen=True)
class DeliveryQuestions:
    delivery_id: str
    questionnaire: Questionnaire | None
    locale: str

    @property
    def items(self) -> Mapping[str, Item]:
        questionnaire = self.questionnaire
        return {item.key: item for item in questionnaire.items} if questionnaire else {}


async def questions_for(deps: AnswerDeps, delivery_id: str, channel: Channel) -> DeliveryQuestions:
    """What an answer through ``channel`` to the delivery may answer, and the member's locale."""
    async with deps.sessions() as session:
        row = await Deliveries(session).get(delivery_id)
        if row is None:
            raise UnknownDelivery(delivery_id)
        contact = await Contacts(session, default_quiet_hours=None).record(row.member_id)
    locale = contact.locale if contact is not None else None
    return DeliveryQuestions(delivery_id, questionnaire_of(row, channel), locale or "en")


def _validated(
    items: Mapping[str, Item], values: Mapping[str, int], channel: Channel
) -> dict[str, int]:
    if not values:
        raise InvalidAnswer("choose at least one answer")
    checked: dict[str, int] = {}
    for key, value in values.items():
        if key == RITUAL_KEPT and value in (0, 1) and not items:
            checked[key] = value
            continue
        item = items.get(key)
        if item is None:
            known = ITEMS.get(key)
            if known is not None and not known.asked_by(channel):
                raise InvalidAnswer("that question is answered on the e-mail form only")
            raise InvalidAnswer("that question is not part of this check-in")
        if item.option(value) is None:
            allowed = ", ".join(str(option.value) for option in item.options)
            raise InvalidAnswer(f"answers to this question are one of {allowed}")
        checked[key] = value
    return checked


async def record_answers(
    deps: AnswerDeps, delivery_id: str, values: Mapping[str, int], channel: Channel
) -> AnswerResult:
    """Store the answers to one delivery, received through ``channel``, and stage what they
    imply (see the module)."""
    now = deps.clock.now()
    async with deps.sessions() as session, session.begin():
        delivery = await Deliveries(session).get(delivery_id)
        contact = None
        if delivery is not None:
            contact = await Contacts(session, default_quiet_hours=None).record(delivery.member_id)
        if delivery is None or contact is None:
            raise UnknownDelivery(delivery_id)
        checked = _validated(items_of(delivery, channel), values, channel)
        on_time = now <= delivery.respond_by
        inserted = await insert_ignoring_duplicates(
            session,
            answers,
            [
                {
                    "delivery_id": delivery_id,
                    "item_key": key,
                    "value": value,
                    "on_time": on_time,
                    "answered_at": now,
                }
                for key, value in checked.items()
            ],
        )
        if not inserted:
            return AnswerResult(AnswerOutcome.already_answered, False)
        answered = PromptAnsweredV1(
            event_id=deterministic_event_id("prompt.answered", delivery.id),
            occurred_at=now,
            due_event_id=delivery.due_event_id,
            ritual_id=delivery.ritual_id,
            community_id=delivery.community_id,
            member_id=delivery.member_id,
            on_time=on_time,
        )
        await stage_events(session, outbox, [answered], now)
        signpost = deps.distress is not None and deps.distress.by_answers(checked)
        if signpost:
            await record_signpost(
                session,
                delivery.member_id,
                delivery.community_id,
                delivery.occurrence_local_date,
                now,
            )
    deps.relay.kick()
    outcome = AnswerOutcome.recorded if on_time else AnswerOutcome.recorded_late
    return AnswerResult(outcome, signpost)


async def record_signpost(
    session: AsyncSession, member_id: str, community_id: str, occurrence_date: date, now: datetime
) -> None:
    """Remember that the member was sent support resources in that week (once per week)."""
    await insert_ignoring_duplicates(
        session,
        signposts,
        [
            {
                "member_id": member_id,
                "community_id": community_id,
                "iso_week": iso_week_of(occurrence_date),
                "recorded_at": now,
            }
        ],
    )
