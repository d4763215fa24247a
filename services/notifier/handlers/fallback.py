"""The member's fallback channel, tried once when the preferred one fails for good."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import deliveries
from services.notifier.handlers.prompt_job import delivery_id_for
from services.notifier.handlers.statuses import QUEUED
from shared.contracts import Channel
from shared.db import insert_ignoring_duplicates


async def queue_fallback(
    session: AsyncSession, failed: Row[Any], channel: Channel, now: datetime
) -> bool:
    """A second delivery row for the same send on ``channel``; idempotent (one per channel)."""
    row = dict(failed._mapping) | {
        "id": delivery_id_for(failed.due_event_id, channel),
        "channel": channel.value,
        "status": QUEUED,
        "attempts": 0,
        "not_before": now,
        "lease_until": None,
        "failure_reason": None,
        "provider_status": None,
        "provider_message_id": None,
        "provider_state": None,
        "provider_state_rank": 0,
        "sent_at": None,
        "delivered_at": None,
        "created_at": now,
    }
    return bool(await insert_ignoring_duplicates(session, deliveries, [row]))
