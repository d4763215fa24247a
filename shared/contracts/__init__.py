"""Message contracts: every event that crosses NATS, as a versioned pydantic model."""

from shared.contracts.base import (
    CommunityId,
    Event,
    MemberId,
    RespondentKey,
    RitualId,
    deterministic_event_id,
)
from shared.contracts.prompts import (
    Channel,
    FailureReason,
    PromptAnsweredV1,
    PromptFailedV1,
    PromptSentV1,
)
from shared.contracts.responses import ResponseReceivedV1
from shared.contracts.rituals import NudgeDueV1, RitualDueV1, RitualKind

__all__ = [
    "Channel",
    "CommunityId",
    "Event",
    "FailureReason",
    "MemberId",
    "NudgeDueV1",
    "PromptAnsweredV1",
    "PromptFailedV1",
    "PromptSentV1",
    "RespondentKey",
    "ResponseReceivedV1",
    "RitualDueV1",
    "RitualId",
    "RitualKind",
    "deterministic_event_id",
]
