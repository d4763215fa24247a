"""A member's sends and answers as records: what an SMS reply answers, the subject-access export,
erasure and retention. Answers live and die with their delivery (``answers.delivery_id``), so
the statements on them that go through ``deliveries`` are here too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, select

from services.notifier.adapters.deliveries.base import DeliveriesBase
from services.notifier.adapters.tables import answers, deliveries
from services.notifier.domain.delivery import Delivery, DeliveryStatus
from shared.contracts import Channel


@dataclass(frozen=True)
class Answer:
    delivery_id: str
    item_key: str
    value: int
    on_time: bool
    answered_at: datetime


class MemberRecords(DeliveriesBase):
    async def sms_prompt_to_answer(self, member_id: str) -> str | None:
        """The delivery an SMS answer belongs to: the member's most recent prompt by SMS (a
        nudge's answer goes to the prompt it nudged).

        A prompt still marked as sending counts, and as the newest: the provider may have
        handed it over (and the member replied) before the dispatcher recorded that it was sent.
        """
        in_flight_first = case((deliveries.c.status == DeliveryStatus.sending, 0), else_=1)
        row = (
            await self._session.execute(
                select(deliveries.c.id, deliveries.c.answers_delivery_id)
                .where(
                    (deliveries.c.member_id == member_id)
                    & (deliveries.c.channel == Channel.sms.value)
                    & deliveries.c.status.in_((DeliveryStatus.sent, DeliveryStatus.sending))
                )
                .order_by(in_flight_first, deliveries.c.sent_at.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        return str(row.answers_delivery_id or row.id)

    async def of_member(self, member_id: str) -> list[Delivery]:
        """Every delivery of the member, oldest first."""
        rows = await self._session.execute(
            select(deliveries)
            .where(deliveries.c.member_id == member_id)
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
        return [Delivery.from_row(row) for row in rows]

    async def rituals_of_member(self, member_id: str) -> dict[str, str]:
        """ritual id -> ritual kind, for every ritual the member was ever prompted for (what
        their preferences page lists: the notifier knows rituals only from their prompts)."""
        rows = await self._session.execute(
            select(deliveries.c.ritual_id, deliveries.c.ritual_kind)
            .where(deliveries.c.member_id == member_id)
            .distinct()
            .order_by(deliveries.c.ritual_id)
        )
        return {row.ritual_id: row.ritual_kind for row in rows}

    async def ritual_zones_of_member(self, member_id: str) -> dict[str, str]:
        """ritual id -> the zone the member's latest prompt of it was read in (theirs, or the
        community's for a pinned ritual): where its time slots are local times."""
        rows = await self._session.execute(
            select(
                deliveries.c.ritual_id,
                deliveries.c.timezone,
                func.max(deliveries.c.occurrence_at).label("latest"),
            )
            .where(deliveries.c.member_id == member_id)
            .group_by(deliveries.c.ritual_id, deliveries.c.timezone)
            .order_by("latest")
        )
        return {row.ritual_id: row.timezone for row in rows}  # the latest zone wins

    async def answers_of_member(self, member_id: str) -> list[Answer]:
        """Every answer the member gave, in the order given."""
        rows = await self._session.execute(
            select(answers)
            .join(deliveries, deliveries.c.id == answers.c.delivery_id)
            .where(deliveries.c.member_id == member_id)
            .order_by(answers.c.answered_at, answers.c.item_key)
        )
        return [
            Answer(row.delivery_id, row.item_key, row.value, row.on_time, row.answered_at)
            for row in rows
        ]

    async def erase_member(self, member_id: str) -> None:
        """Delete the member's deliveries and their answers (answers first: nothing is left
        pointing at a delivery that is gone, whatever the engine does with the foreign key)."""
        theirs = select(deliveries.c.id).where(deliveries.c.member_id == member_id)
        await self._session.execute(delete(answers).where(answers.c.delivery_id.in_(theirs)))
        await self._session.execute(delete(deliveries).where(deliveries.c.member_id == member_id))

    async def delete_created_before(self, cutoff: datetime, limit: int) -> tuple[int, int]:
        """Delete up to ``limit`` deliveries created before ``cutoff``, with their answers;
        returns (deliveries, answers) deleted. Small batches: the caller commits each, so a
        large backlog never holds locks for long."""
        ids = (
            (
                await self._session.execute(
                    select(deliveries.c.id).where(deliveries.c.created_at < cutoff).limit(limit)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0, 0
        gone_answers = await self._session.execute(
            delete(answers).where(answers.c.delivery_id.in_(ids))
        )
        await self._session.execute(delete(deliveries).where(deliveries.c.id.in_(ids)))
        return len(ids), int(getattr(gone_answers, "rowcount", 0) or 0)
