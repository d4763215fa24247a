"""One send: a ritual's prompt or one of its nudges, described independently of the event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from services.notifier.domain.questionnaire import questionnaire_key
from shared.contracts import Channel, NudgeDueV1, RitualDueV1, RitualKind, deterministic_event_id

if TYPE_CHECKING:
    from services.notifier.domain.delivery import Delivery


def delivery_id_for(send_event_id: str, channel: Channel) -> str:
    return deterministic_event_id("delivery", send_event_id, channel.value)


@dataclass(frozen=True)
class PromptJob:
    send_event_id: str  # the RitualDue, or the NudgeDue, this send answers to
    due_event_id: str  # always the RitualDue: what scheduler and reports refer to
    nudge_number: int
    member_id: str
    community_id: str
    ritual_id: str
    ritual_kind: RitualKind
    template_key: str
    item_key: str | None
    occurrence_at: datetime
    occurrence_local_date: date
    respond_by: datetime
    timezone: str
    answers_delivery_id: str | None  # for a nudge: the original delivery its links answer

    @property
    def template(self) -> str:
        return f"{self.template_key}_nudge" if self.nudge_number else self.template_key

    def delivery_id(self, channel: Channel) -> str:
        return delivery_id_for(self.send_event_id, channel)

    def answer_delivery_id(self, channel: Channel) -> str:
        return self.answers_delivery_id or self.delivery_id(channel)

    @classmethod
    def for_due(cls, event: RitualDueV1) -> PromptJob:
        return cls(
            send_event_id=event.event_id,
            due_event_id=event.event_id,
            nudge_number=0,
            member_id=event.member_id,
            community_id=event.community_id,
            ritual_id=event.ritual_id,
            ritual_kind=event.ritual_kind,
            template_key=event.template_key,
            # Which questions (this week's module) the prompt asks, for the record.
            item_key=questionnaire_key(event.template_key, event.occurrence_local_date),
            occurrence_at=event.occurrence_at,
            occurrence_local_date=event.occurrence_local_date,
            respond_by=event.respond_by,
            timezone=event.timezone,
            answers_delivery_id=None,
        )

    @classmethod
    def for_nudge(cls, event: NudgeDueV1, original: Delivery) -> PromptJob:
        """A nudge repeats the original prompt's question; its links answer the original."""
        return cls(
            send_event_id=event.event_id,
            due_event_id=event.due_event_id,
            nudge_number=event.nudge_number,
            member_id=event.member_id,
            community_id=event.community_id,
            ritual_id=event.ritual_id,
            ritual_kind=original.ritual_kind,
            template_key=original.template_key,
            item_key=original.item_key,
            occurrence_at=original.occurrence_at,
            occurrence_local_date=original.occurrence_local_date,
            respond_by=original.respond_by,
            timezone=original.timezone,
            answers_delivery_id=original.id,
        )
