from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.insights.adapters.tables import response_facts, signposting_facts


@dataclass(frozen=True)
class WeeklyCount:
    iso_week: str
    responses: int
    respondents: int


async def weekly_counts(session: AsyncSession, community_id: str) -> list[WeeklyCount]:
    """Answers and distinct respondents per ISO week for one community, oldest week first."""
    rows = await session.execute(
        select(
            response_facts.c.iso_week,
            func.count().label("responses"),
            func.count(distinct(response_facts.c.respondent_key)).label("respondents"),
        )
        .where(response_facts.c.community_id == community_id)
        .group_by(response_facts.c.iso_week)
        .order_by(response_facts.c.iso_week)
    )
    return [WeeklyCount(row.iso_week, row.responses, row.respondents) for row in rows]


async def weekly_signposting(session: AsyncSession, community_id: str) -> dict[str, int]:
    """People sent support messages per ISO week (indicator 10: a count, no denominator)."""
    rows = await session.execute(
        select(signposting_facts.c.iso_week, func.count().label("sent"))
        .where(signposting_facts.c.community_id == community_id)
        .group_by(signposting_facts.c.iso_week)
        .order_by(signposting_facts.c.iso_week)
    )
    return {row.iso_week: row.sent for row in rows}
