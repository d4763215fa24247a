from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared import subjects
from shared.contracts.base import CommunityId, Event, RespondentKey, RitualId
from shared.contracts.rituals import RitualKind


class ResponseReceivedV1(Event):
    """A structured answer, for insights: no member id, no contact data, no free text.

    ``respondent_key`` is a keyed hash of the member id that only the notifier can compute: it
    lets insights count distinct people without learning who they are. Published only for
    members who consented to contribute anonymised answers.
    """

    subject: ClassVar[str] = subjects.RESPONSE_RECEIVED

    type: Literal["response.received"] = "response.received"
    version: Literal[1] = 1
    respondent_key: RespondentKey
    community_id: CommunityId
    ritual_id: RitualId
    ritual_kind: RitualKind
    iso_week: str = Field(pattern=r"^\d{4}-W\d{2}$", description="Week of the occurrence.")
    item: str = Field(pattern=r"^[a-z0-9_]{1,64}$", description="Question item key.")
    value: int = Field(ge=0, le=100)
    on_time: bool = Field(description="Answered inside the ritual's response window.")


class RespondentErasedV1(Event):
    """A member was erased: insights deletes what it holds under this respondent key.

    Published separately from MemberErasedV1 so that no event links a member id to a
    respondent key.
    """

    subject: ClassVar[str] = subjects.RESPONDENT_ERASED

    type: Literal["respondent.erased"] = "respondent.erased"
    version: Literal[1] = 1
    respondent_key: RespondentKey


class SignpostingSentV1(Event):
    """Someone was sent professional-support and crisis resources. Aggregate-only: which
    community and week, never who, and never what they wrote."""

    subject: ClassVar[str] = subjects.SIGNPOSTING_SENT

    type: Literal["signposting.sent"] = "signposting.sent"
    version: Literal[1] = 1
    community_id: CommunityId
    iso_week: str = Field(pattern=r"^\d{4}-W\d{2}$")
