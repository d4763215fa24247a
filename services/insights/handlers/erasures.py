"""Erased respondents: delete their facts and keep their keys, for good.

Tombstones are applied three ways, so that nothing erased comes back:
* as RespondentsErased events arrive (the durable consumer);
* at every start, by reading the whole ERASURES stream again (it never expires) before the
  service consumes or serves: a database restored from a backup, or rebuilt by a replay, loses
  whatever an erasure since then removed;
* by a periodic purge of facts under a tombstoned key (a fact stored in the same instant as its
  tombstone, by another consumer, cannot survive it for long; releases purge first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import (
    erased_respondents,
    period_facts,
    prompted_facts,
    response_facts,
    signposting_facts,
)
from shared.contracts import RespondentsErasedV2
from shared.db import insert_ignoring_duplicates
from shared.messaging.stream_scan import scan_stream
from shared.streams import ERASURES

FACT_TABLES = (response_facts, signposting_facts, prompted_facts, period_facts)


async def _tombstone(session: AsyncSession, keys: Sequence[str]) -> None:
    await insert_ignoring_duplicates(
        session, erased_respondents, [{"respondent_key": key} for key in keys]
    )
    for table in FACT_TABLES:
        await session.execute(delete(table).where(table.c.respondent_key.in_(list(keys))))


async def forget_respondents(
    sessions: async_sessionmaker[AsyncSession], event: RespondentsErasedV2
) -> str:
    """Idempotent: a redelivery finds the tombstones there and nothing left to delete."""
    async with sessions() as session, session.begin():
        await _tombstone(session, event.respondent_keys)
    return "forgotten"


async def purge_tombstoned_facts(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Delete any fact stored under a tombstoned key; returns how many went."""
    purged = 0
    async with sessions() as session, session.begin():
        erased = select(erased_respondents.c.respondent_key)
        for table in FACT_TABLES:
            result = await session.execute(delete(table).where(table.c.respondent_key.in_(erased)))
            purged += int(getattr(result, "rowcount", 0) or 0)
    return purged


@dataclass
class TombstoneReplay:
    """Re-applies every erasure on the ERASURES stream when the service starts (a ``Resource``:
    it runs after the streams exist and before consumers and HTTP start)."""

    sessions: async_sessionmaker[AsyncSession]
    jetstream: Callable[[], JetStreamContext]
    replayed: int = 0

    async def start(self) -> None:
        async for message in scan_stream(self.jetstream(), ERASURES, RespondentsErasedV2.subject):
            try:
                event = RespondentsErasedV2.model_validate_json(message.data)
            except ValueError:
                continue  # the durable consumer dead-letters it with the reason
            async with self.sessions() as session, session.begin():
                await _tombstone(session, event.respondent_keys)
            self.replayed += 1
        await purge_tombstoned_facts(self.sessions)

    async def close(self) -> None:
        return None
