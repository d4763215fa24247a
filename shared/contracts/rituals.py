from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shared import subjects
from shared.contracts.base import (
    CommunityId,
    Event,
    EventId,
    MemberId,
    RitualId,
    TimeOfDay,
    UtcDatetime,
)


class RitualKind(StrEnum):
    check_in = "check_in"
    shared_activity = "shared_activity"
    reach_out = "reach_out"
    gratitude = "gratitude"
    group_event = "group_event"


class RitualDueV1(Event):
    """One occurrence of a ritual, due for one enrolled member.

    Published by the scheduler; ``event_id`` = f(ritual, member, occurrence instant, ritual
    version), so a crash-and-replay or a second replica produces the same id.
    """

    subject: ClassVar[str] = subjects.RITUAL_DUE

    type: Literal["ritual.due"] = "ritual.due"
    version: Literal[1] = 1
    ritual_id: RitualId
    ritual_version: int = Field(ge=1)
    ritual_kind: RitualKind
    community_id: CommunityId
    member_id: MemberId
    template_key: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    timezone: str = Field(
        pattern=r"^[A-Za-z0-9_+/-]{1,64}$",
        description="IANA zone the occurrence was read in: the member's, or the community's.",
    )
    occurrence_at: UtcDatetime
    occurrence_local_date: date = Field(
        description="The occurrence's calendar date where it fires; reporting weeks use it."
    )
    respond_by: UtcDatetime
    late: bool = Field(
        default=False, description="Emitted after its instant, within the misfire grace."
    )
    time_slots: list[TimeOfDay] = Field(
        default_factory=list,
        max_length=3,
        description="Local times of day (in ``timezone``) the ritual offers members to choose "
        "among, the default first; empty: it offers no choice. The notifier learns them here, "
        "as it learns the ritual's kind, to show them on the member's preferences page.",
    )


class NudgeDueV1(Event):
    """A gentle reminder of an unanswered prompt, due for one member.

    Published by the scheduler when the ritual's nudge delay has passed since the prompt (or the
    previous nudge) was actually sent and no answer came; ``event_id`` = f(due event, number).
    """

    subject: ClassVar[str] = subjects.NUDGE_DUE

    type: Literal["nudge.due"] = "nudge.due"
    version: Literal[1] = 1
    due_event_id: EventId
    nudge_number: int = Field(ge=1)
    ritual_id: RitualId
    community_id: CommunityId
    member_id: MemberId
    respond_by: UtcDatetime
