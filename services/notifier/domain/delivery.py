"""A delivery: one send of one prompt (or nudge) on one channel, and its life.

queued -> sending (leased by one dispatcher) -> sent | failed | skipped; a transient failure,
quiet hours or a paused provider put it back in the queue with a later ``not_before``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from services.notifier.domain.prompt_job import PromptJob
from shared.contracts import Channel, RitualKind


class DeliveryStatus(StrEnum):
    queued = "queued"
    sending = "sending"  # claimed: ``lease_until`` says until when, and is the fencing token
    sent = "sent"
    failed = "failed"
    skipped = "skipped"  # e.g. a nudge whose prompt was answered before it went out


@dataclass(frozen=True)
class Delivery:
    id: str
    due_event_id: str  # the event this send answers to (a RitualDue, or a NudgeDue)
    channel: Channel
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
    nudge_number: int
    answers_delivery_id: str | None
    status: DeliveryStatus
    attempts: int
    failure_reason: str | None
    provider_status: int | None
    created_at: datetime
    sent_at: datetime | None
    not_before: datetime | None
    lease_until: datetime | None
    lease_token: str | None
    provider_message_id: str | None
    provider_state: str | None
    provider_state_rank: int
    delivered_at: datetime | None
    source_event: str | None

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        """From a row of the ``deliveries`` table (any object with its columns)."""
        values = {field.name: getattr(row, field.name) for field in _FIELDS}
        values["channel"] = Channel(values["channel"])
        values["ritual_kind"] = RitualKind(values["ritual_kind"])
        values["status"] = DeliveryStatus(values["status"])
        return cls(**values)

    def claimed(self, lease_until: datetime, token: str) -> Delivery:
        """As a dispatcher's claim leaves it: leased, this attempt counted."""
        return replace(
            self,
            status=DeliveryStatus.sending,
            lease_until=lease_until,
            lease_token=token,
            attempts=self.attempts + 1,
        )

    @property
    def is_nudge(self) -> bool:
        return self.nudge_number > 0

    def job(self, ritual_due_id: str | None = None) -> PromptJob:
        """The send this row describes; ``ritual_due_id``: the original RitualDue (a nudge's
        row only knows its NudgeDue)."""
        return PromptJob(
            send_event_id=self.due_event_id,
            due_event_id=ritual_due_id or self.due_event_id,
            nudge_number=self.nudge_number,
            member_id=self.member_id,
            community_id=self.community_id,
            ritual_id=self.ritual_id,
            ritual_kind=self.ritual_kind,
            template_key=self.template_key,
            item_key=self.item_key,
            occurrence_at=self.occurrence_at,
            occurrence_local_date=self.occurrence_local_date,
            respond_by=self.respond_by,
            timezone=self.timezone,
            answers_delivery_id=self.answers_delivery_id,
        )


_FIELDS = fields(Delivery)
