"""Anonymised facts in: answers and signposting. Idempotent on the fact's own key, and never
stored under the key of an erased respondent (tombstones, see ``erasures``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, exists, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import (
    erased_respondents,
    period_facts,
    prompted_facts,
    response_facts,
    signposting_facts,
)
from shared.contracts import PeriodSummaryV1, PromptedV1, ResponseReceivedV2, SignpostingSentV2


async def _insert_unless_erased(session: AsyncSession, table: Table, row: dict[str, Any]) -> bool:
    """INSERT … SELECT … WHERE NOT EXISTS (tombstone) ON CONFLICT DO NOTHING: one statement."""
    tombstoned = exists().where(erased_respondents.c.respondent_key == row["respondent_key"])
    source = select(*(literal(value).label(name) for name, value in row.items())).where(~tombstoned)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.from_select(list(row), source).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def store_response(
    sessions: async_sessionmaker[AsyncSession], event: ResponseReceivedV2
) -> str:
    async with sessions() as session, session.begin():
        stored = await _insert_unless_erased(
            session,
            response_facts,
            {
                "respondent_key": event.respondent_key,
                "community_id": event.community_id,
                "iso_week": event.iso_week,
                "item": event.item,
                "value": event.value,
            },
        )
    return "stored" if stored else "duplicate_or_erased"


async def count_signposting(
    sessions: async_sessionmaker[AsyncSession], event: SignpostingSentV2
) -> str:
    async with sessions() as session, session.begin():
        stored = await _insert_unless_erased(
            session,
            signposting_facts,
            {
                "respondent_key": event.respondent_key,
                "community_id": event.community_id,
                "iso_week": event.iso_week,
            },
        )
    return "counted" if stored else "duplicate_or_erased"


async def store_prompted(sessions: async_sessionmaker[AsyncSession], event: PromptedV1) -> str:
    async with sessions() as session, session.begin():
        stored = await _insert_unless_erased(
            session,
            prompted_facts,
            {
                "respondent_key": event.respondent_key,
                "community_id": event.community_id,
                "iso_week": event.iso_week,
            },
        )
    return "stored" if stored else "duplicate_or_erased"


async def store_period_summary(
    sessions: async_sessionmaker[AsyncSession], event: PeriodSummaryV1
) -> str:
    async with sessions() as session, session.begin():
        stored = await _insert_unless_erased(
            session,
            period_facts,
            {
                "respondent_key": event.respondent_key,
                "community_id": event.community_id,
                "period": event.period,
                "anchor_value": event.anchor_value,
                "answered": event.answered,
                "signposted": event.signposted,
            },
        )
    return "stored" if stored else "duplicate_or_erased"
