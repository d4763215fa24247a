"""Erasure tombstones for insights: queued by each erasure, released once a day, all together.

An erasure publishes MemberErased (the member id, for the scheduler) at once. The respondent keys
insights must delete wait in ``pending_tombstones`` for the next 00:00 UTC, when this job
publishes every key of the day's erasures in RespondentsErased events, sorted by key (which is
random-looking) and chunked. So neither the timing of a tombstone nor the set of keys in one
event ties it to one member's erasure; only a day with a single erasure does, and then what it
ties is a set of keys whose facts are already gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import outbox, pending_tombstones
from services.notifier.domain.insights_release import next_daily_release
from shared.clock import Clock
from shared.contracts import Event, RespondentsErasedV2, keyed_event_id
from shared.contracts.responses import MAX_KEYS_PER_ERASURE
from shared.db import insert_ignoring_duplicates
from shared.outbox import OutboxRelay, stage_events


async def queue_tombstones(session: AsyncSession, keys: Sequence[str], now: datetime) -> None:
    """Queue an erased member's keys for the next daily batch (inside the erasure)."""
    release_at = next_daily_release(now)
    await insert_ignoring_duplicates(
        session,
        pending_tombstones,
        [{"respondent_key": key, "release_at": release_at} for key in keys],
    )


async def release_tombstones(
    sessions: async_sessionmaker[AsyncSession], secret: bytes, clock: Clock, relay: OutboxRelay
) -> int:
    """Publish every queued key whose day has come; returns how many keys left."""
    now = clock.now()
    async with sessions() as session, session.begin():
        keys = (
            (
                await session.execute(
                    select(pending_tombstones.c.respondent_key)
                    .where(pending_tombstones.c.release_at <= now)
                    .order_by(pending_tombstones.c.respondent_key)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not keys:
            return 0
        events: list[Event] = []
        for start in range(0, len(keys), MAX_KEYS_PER_ERASURE):
            chunk = list(keys[start : start + MAX_KEYS_PER_ERASURE])
            events.append(
                RespondentsErasedV2(
                    event_id=keyed_event_id(secret, "respondents.erased", *chunk),
                    occurred_at=now,
                    respondent_keys=chunk,
                )
            )
        await stage_events(session, outbox, events, now)
        await session.execute(
            delete(pending_tombstones).where(pending_tombstones.c.respondent_key.in_(keys))
        )
    relay.kick()
    return len(keys)
