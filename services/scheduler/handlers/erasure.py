"""A member erased in the notifier: drop their enrolments and pending nudges here too."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.adapters.tables import enrolments, nudge_timers
from shared.contracts import MemberErasedV1


async def on_member_erased(
    sessions: async_sessionmaker[AsyncSession], event: MemberErasedV1
) -> str:
    """Idempotent: a redelivery deletes nothing more."""
    async with sessions() as session, session.begin():
        await session.execute(delete(enrolments).where(enrolments.c.member_id == event.member_id))
        await session.execute(
            delete(nudge_timers).where(nudge_timers.c.member_id == event.member_id)
        )
    return "erased"
