"""Message contracts: every event that crosses NATS, as a versioned pydantic model."""

from shared.contracts.base import (
    CommunityId,
    Event,
    MemberId,
    RespondentKey,
    RitualId,
    deterministic_event_id,
    keyed_event_id,
)
from shared.contracts.choices import MemberRitualChoiceV1, RitualChoice
from shared.contracts.communities import CommunityChangedV1
from shared.contracts.members import MemberErasedV1
from shared.contracts.prompts import (
    Channel,
    FailureReason,
    PromptAnsweredV1,
    PromptDeliveredV1,
    PromptFailedV1,
    PromptSentV1,
)
from shared.contracts.responses import (
    PeriodSummaryV1,
    PromptedV1,
    RespondentsErasedV2,
    ResponseReceivedV2,
    SignpostingSentV2,
    WeekClosedV1,
)
from shared.contracts.rituals import NudgeDueV1, RitualDueV1, RitualKind

__all__ = [
    "Channel",
    "CommunityChangedV1",
    "CommunityId",
    "Event",
    "FailureReason",
    "MemberErasedV1",
    "MemberId",
    "MemberRitualChoiceV1",
    "NudgeDueV1",
    "PeriodSummaryV1",
    "PromptAnsweredV1",
    "PromptDeliveredV1",
    "PromptFailedV1",
    "PromptSentV1",
    "PromptedV1",
    "RespondentKey",
    "RespondentsErasedV2",
    "ResponseReceivedV2",
    "RitualChoice",
    "RitualDueV1",
    "RitualId",
    "RitualKind",
    "SignpostingSentV2",
    "WeekClosedV1",
    "deterministic_event_id",
    "keyed_event_id",
]
