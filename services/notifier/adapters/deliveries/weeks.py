"""What a week's release to insights reads of the delivery ledger (``insights_release``): who
was prompted, what they answered, whether anyone was prompted at all, by the occurrences' local
dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from services.notifier.adapters.deliveries.base import DeliveriesBase
from services.notifier.adapters.tables import answers, deliveries
from services.notifier.domain.delivery import DeliveryStatus


@dataclass(frozen=True)
class WeekAnswer:
    member_id: str
    community_id: str
    item_key: str
    value: int


class WeekRecords(DeliveriesBase):
    async def prompted_between(self, first: date, last: date) -> set[tuple[str, str]]:
        """(member, community) of every prompt (not nudge) sent for an occurrence in
        ``first``..``last`` (inclusive)."""
        rows = await self._session.execute(
            select(deliveries.c.member_id, deliveries.c.community_id)
            .where(
                deliveries.c.occurrence_local_date.between(first, last)
                & (deliveries.c.status == DeliveryStatus.sent)
                & (deliveries.c.nudge_number == 0)
            )
            .distinct()
        )
        return {(row.member_id, row.community_id) for row in rows}

    async def answers_between(self, first: date, last: date) -> list[WeekAnswer]:
        """Answers to occurrences in ``first``..``last``, oldest first (by occurrence, then
        when answered), so that the latest answer to an item is the last one."""
        rows = await self._session.execute(
            select(
                deliveries.c.member_id,
                deliveries.c.community_id,
                answers.c.item_key,
                answers.c.value,
            )
            .join(deliveries, deliveries.c.id == answers.c.delivery_id)
            .where(deliveries.c.occurrence_local_date.between(first, last))
            .order_by(deliveries.c.occurrence_local_date, answers.c.answered_at, answers.c.item_key)
        )
        return [
            WeekAnswer(row.member_id, row.community_id, row.item_key, row.value) for row in rows
        ]

    async def any_between(self, first: date, last: date) -> bool:
        """Whether any delivery is for an occurrence in ``first``..``last``."""
        found = await self._session.execute(
            select(deliveries.c.id)
            .where(deliveries.c.occurrence_local_date.between(first, last))
            .limit(1)
        )
        return found.first() is not None
