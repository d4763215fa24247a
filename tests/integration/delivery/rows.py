"""Rows of the notifier's ``deliveries`` table as the tests of this folder need them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from services.notifier.domain.delivery import DeliveryStatus

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def sent_sms_delivery(
    delivery_id: str, member_id: str, message_id: str, rank: int
) -> dict[str, object]:
    return {
        "id": delivery_id,
        "due_event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, delivery_id)),
        "channel": "sms",
        "member_id": member_id,
        "community_id": "c1",
        "ritual_id": "r1",
        "ritual_kind": "reach_out",
        "template_key": "reminder",
        "item_key": None,
        "occurrence_at": NOW,
        "occurrence_local_date": date(2027, 1, 4),
        "respond_by": NOW + timedelta(days=1),
        "timezone": "UTC",
        "nudge_number": 0,
        "status": DeliveryStatus.sent.value,
        "attempts": 1,
        "created_at": NOW,
        "sent_at": NOW,
        "provider_message_id": message_id,
        "provider_state": "delivered" if rank == 5 else None,
        "provider_state_rank": rank,
    }
