"""Retention: the notifier keeps sends, answers, support records and inbound SMS for a stated
time, then deletes them (``retain_deliveries_days``, ``retain_inbound_messages_days``; see
README, Privacy).

Contacts and their consent trail stay while the member does (until erasure): the trail is the
record of why we may write to them. Deletion runs in small batches, each its own transaction, so
a large backlog never holds locks for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.tables import inbound_messages, signposts


@dataclass(frozen=True)
class RetentionPolicy:
    deliveries: timedelta
    inbound_messages: timedelta
    batch_size: int = 1000


@dataclass
class RetentionResult:
    deliveries: int = 0
    answers: int = 0
    inbound_messages: int = 0
    signposts: int = 0


async def _delete_old_inbound(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    ids = (
        (
            await session.execute(
                select(inbound_messages.c.provider_message_id)
                .where(inbound_messages.c.received_at < cutoff)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    if ids:
        await session.execute(
            delete(inbound_messages).where(inbound_messages.c.provider_message_id.in_(ids))
        )
    return len(ids)


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession], now: datetime, policy: RetentionPolicy
) -> RetentionResult:
    """Delete everything past its retention; returns how much went."""
    result = RetentionResult()
    while True:
        async with sessions() as session, session.begin():
            sends, answered = await Deliveries(session).delete_created_before(
                now - policy.deliveries, policy.batch_size
            )
        result.deliveries += sends
        result.answers += answered
        if sends < policy.batch_size:
            break
    async with sessions() as session, session.begin():
        gone = await session.execute(
            delete(signposts).where(signposts.c.recorded_at < now - policy.deliveries)
        )
        result.signposts = int(getattr(gone, "rowcount", 0) or 0)
    while True:
        async with sessions() as session, session.begin():
            texts = await _delete_old_inbound(
                session, now - policy.inbound_messages, policy.batch_size
            )
        result.inbound_messages += texts
        if texts < policy.batch_size:
            break
    return result
