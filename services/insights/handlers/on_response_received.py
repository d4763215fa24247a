"""Responses, erasures and signposting counts in; every handler idempotent on the event id."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import response_facts, signposting_facts
from shared.contracts import RespondentErasedV1, ResponseReceivedV1, SignpostingSentV1
from shared.db import insert_ignoring_duplicates


async def store_response(
    sessions: async_sessionmaker[AsyncSession], event: ResponseReceivedV1
) -> str:
    async with sessions() as session, session.begin():
        inserted = await insert_ignoring_duplicates(
            session,
            response_facts,
            [
                {
                    "event_id": event.event_id,
                    "community_id": event.community_id,
                    "iso_week": event.iso_week,
                    "respondent_key": event.respondent_key,
                    "ritual_id": event.ritual_id,
                    "ritual_kind": event.ritual_kind.value,
                    "item": event.item,
                    "value": event.value,
                    "on_time": event.on_time,
                    "answered_at": event.occurred_at,
                }
            ],
        )
    return "stored" if inserted else "duplicate"


async def forget_respondent(
    sessions: async_sessionmaker[AsyncSession], event: RespondentErasedV1
) -> str:
    """An erased member's answers leave every later count."""
    async with sessions() as session, session.begin():
        await session.execute(
            delete(response_facts).where(response_facts.c.respondent_key == event.respondent_key)
        )
    return "forgotten"


async def count_signposting(
    sessions: async_sessionmaker[AsyncSession], event: SignpostingSentV1
) -> str:
    async with sessions() as session, session.begin():
        inserted = await insert_ignoring_duplicates(
            session,
            signposting_facts,
            [
                {
                    "event_id": event.event_id,
                    "community_id": event.community_id,
                    "iso_week": event.iso_week,
                }
            ],
        )
    return "counted" if inserted else "duplicate"
