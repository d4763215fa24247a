"""The areas releases are for: communities (public facts from the scheduler) and the regions
their official area codes name; and the weeks the notifier has published in full."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import closed_weeks, communities
from shared.contracts import CommunityChangedV1, WeekClosedV1
from shared.db import insert_ignoring_duplicates


async def record_community(
    sessions: async_sessionmaker[AsyncSession], event: CommunityChangedV1
) -> str:
    """The newest facts win, whatever order they arrive in (a replay, a redelivery)."""
    row = {
        "community_id": event.community_id,
        "name": event.name,
        "region_code": event.region_code,
        "active": event.active,
        "changed_at": event.occurred_at,
    }
    async with sessions() as session, session.begin():
        if await insert_ignoring_duplicates(session, communities, [row]):
            return "added"
        result = await session.execute(
            update(communities)
            .where(
                (communities.c.community_id == event.community_id)
                & (communities.c.changed_at <= event.occurred_at)
            )
            .values(**row)
        )
    return "updated" if getattr(result, "rowcount", 0) else "older"


async def record_closed_week(
    sessions: async_sessionmaker[AsyncSession], event: WeekClosedV1
) -> str:
    async with sessions() as session, session.begin():
        added = await insert_ignoring_duplicates(
            session,
            closed_weeks,
            [
                {
                    "iso_week": event.iso_week,
                    "period_closed": event.period_closed,
                    "received_at": event.occurred_at,
                }
            ],
        )
    return "closed" if added else "duplicate"


async def known_communities(session: AsyncSession) -> dict[str, tuple[str, str, bool]]:
    """community id -> (name, region code, active)."""
    rows = await session.execute(
        select(
            communities.c.community_id,
            communities.c.name,
            communities.c.region_code,
            communities.c.active,
        )
    )
    return {row.community_id: (row.name, row.region_code, row.active) for row in rows}
