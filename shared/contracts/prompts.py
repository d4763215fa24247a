from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shared import subjects
from shared.contracts.base import CommunityId, Event, EventId, MemberId, RitualId, UtcDatetime


class Channel(StrEnum):
    email = "email"
    sms = "sms"


class FailureReason(StrEnum):
    """Why a prompt was not sent. A code, never a provider's text: that can echo addresses."""

    no_contact = "no_contact"
    no_consent = "no_consent"
    opted_out = "opted_out"
    rejected_permanently = "rejected_permanently"
    retries_exhausted = "retries_exhausted"
    template_error = "template_error"
    undelivered = "undelivered"  # accepted by the provider, then reported undeliverable


class PromptSentV1(Event):
    """A prompt left us for the member's channel (the provider accepted it)."""

    subject: ClassVar[str] = subjects.PROMPT_SENT

    type: Literal["prompt.sent"] = "prompt.sent"
    version: Literal[1] = 1
    due_event_id: EventId
    ritual_id: RitualId
    community_id: CommunityId
    member_id: MemberId
    channel: Channel
    attempts: int = Field(ge=1)
    nudge_number: int = Field(
        default=0, ge=0, description="0 for the prompt itself, n for its n-th nudge."
    )
    occurrence_at: UtcDatetime
    respond_by: UtcDatetime


class PromptFailedV1(Event):
    """A prompt that will not be sent, with a coded reason."""

    subject: ClassVar[str] = subjects.PROMPT_FAILED

    type: Literal["prompt.failed"] = "prompt.failed"
    version: Literal[1] = 1
    due_event_id: EventId
    ritual_id: RitualId
    community_id: CommunityId
    member_id: MemberId
    channel: Channel | None
    reason: FailureReason
    provider_status: int | None = Field(
        default=None, description="SMTP or HTTP status code, when a provider answered."
    )
    attempts: int = Field(ge=0)
    nudge_number: int = Field(default=0, ge=0)


class PromptAnsweredV1(Event):
    """A member answered a prompt: operational, for the scheduler to stop nudging.

    Carries no answer value (that goes to insights, and only with consent).
    """

    subject: ClassVar[str] = subjects.PROMPT_ANSWERED

    type: Literal["prompt.answered"] = "prompt.answered"
    version: Literal[1] = 1
    due_event_id: EventId
    ritual_id: RitualId
    community_id: CommunityId
    member_id: MemberId
    on_time: bool


class PromptDeliveredV1(Event):
    """The provider reports the prompt delivered to the member's handset or mailbox."""

    subject: ClassVar[str] = subjects.PROMPT_DELIVERED

    type: Literal["prompt.delivered"] = "prompt.delivered"
    version: Literal[1] = 1
    due_event_id: EventId
    ritual_id: RitualId
    community_id: CommunityId
    member_id: MemberId
    channel: Channel
    nudge_number: int = Field(default=0, ge=0)
