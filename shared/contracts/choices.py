"""A member's own choice about one ritual, made on the preferences page (notifier -> scheduler).

The scheduler stops emitting that ritual's due events for the member while it is paused or
stopped. The event carries the pseudonymous member id and the ritual only; the id is keyed with
the notifier's secret (``keyed_event_id``), so it cannot be recomputed from a guess of who paused
what.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shared import subjects
from shared.contracts.base import Event, MemberId, RitualId, TimeOfDay


class RitualChoice(StrEnum):
    active = "active"  # receive it (the default, and what a resume chooses)
    paused = "paused"  # not for now
    stopped = "stopped"  # not any more (the rest of the member's rituals go on)

    @property
    def holds(self) -> bool:
        """Whether no prompt of the ritual may go to the member."""
        return self is not RitualChoice.active


class MemberRitualChoiceV1(Event):
    """A member chose to receive, pause or stop one ritual, and at which of its time slots,
    at ``occurred_at``: the whole of their choice about the ritual, not a change to it.

    Consumers keep the latest choice per (member, ritual) by ``sequence``: an older one that
    arrives late (a redelivery after a newer one) changes nothing, even within one second.
    The slot is a field of this event, not an event of its own, so that one sequence orders
    everything a member chose about a ritual; a producer that does not know slots sends
    none, which means the default slot.
    """

    subject: ClassVar[str] = subjects.RITUAL_CHOICE

    type: Literal["ritual.member-choice"] = "ritual.member-choice"
    version: Literal[1] = 1
    member_id: MemberId
    ritual_id: RitualId
    choice: RitualChoice
    sequence: int = Field(
        ge=0, description="How many choices about this ritual the member made before this one."
    )
    time_slot: TimeOfDay | None = Field(
        default=None,
        description="The local time of day the member chose among those the ritual offers "
        "(RitualDue.time_slots); none: the default. A time the ritual no longer offers is "
        "read as the default.",
    )
