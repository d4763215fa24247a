"""The events a delivery produces, with their deterministic ids."""

from __future__ import annotations

from datetime import datetime

from services.notifier.domain.prompt_job import PromptJob
from shared.contracts import (
    Channel,
    FailureReason,
    PromptDeliveredV1,
    PromptFailedV1,
    PromptSentV1,
    deterministic_event_id,
)


def prompt_failed(
    job: PromptJob,
    channel: Channel | None,
    reason: FailureReason,
    attempts: int,
    now: datetime,
    provider_status: int | None = None,
) -> PromptFailedV1:
    return PromptFailedV1(
        event_id=deterministic_event_id(
            "prompt.failed", job.send_event_id, channel.value if channel else "-"
        ),
        occurred_at=now,
        due_event_id=job.due_event_id,
        ritual_id=job.ritual_id,
        community_id=job.community_id,
        member_id=job.member_id,
        channel=channel,
        reason=reason,
        provider_status=provider_status,
        attempts=attempts,
        nudge_number=job.nudge_number,
    )


def prompt_sent(job: PromptJob, channel: Channel, attempts: int, now: datetime) -> PromptSentV1:
    return PromptSentV1(
        event_id=deterministic_event_id(
            "prompt.sent", job.due_event_id, channel.value, job.nudge_number
        ),
        occurred_at=now,
        due_event_id=job.due_event_id,
        ritual_id=job.ritual_id,
        community_id=job.community_id,
        member_id=job.member_id,
        channel=channel,
        attempts=attempts,
        nudge_number=job.nudge_number,
        occurrence_at=job.occurrence_at,
        respond_by=job.respond_by,
    )


def prompt_delivered(job: PromptJob, channel: Channel, now: datetime) -> PromptDeliveredV1:
    return PromptDeliveredV1(
        event_id=deterministic_event_id(
            "prompt.delivered", job.due_event_id, channel.value, job.nudge_number
        ),
        occurred_at=now,
        due_event_id=job.due_event_id,
        ritual_id=job.ritual_id,
        community_id=job.community_id,
        member_id=job.member_id,
        channel=channel,
        nudge_number=job.nudge_number,
    )
