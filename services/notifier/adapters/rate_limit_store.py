"""The shared rate-limit buckets, one row each in the notifier's own database.

Why the database and not a JetStream KV bucket with compare-and-set on the revision: the
dispatcher cannot claim, send or record anything without this database, so keeping the buckets
there adds no way to fail that was not already there, and an outage of it stops sends either
way. A row lock (``SELECT … FOR UPDATE``) queues contending replicas where compare-and-set would
have the losers retry, with contention highest exactly when the limit is saturated. The cost,
one short transaction per reservation, is kept off the per-message path by reserving in blocks
(``domain/deployment_rate_limit.py``). SQLite (dev, one replica) has no row locks; its single
writer lock does the same job, taken by a write first (see ``_lock_row``).

Each replica refills by its own clock reading; the row keeps the latest instant any of them
recorded, so a clock running behind adds nothing and one running ahead adds at most its lead
once, capped by the burst.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import rate_limits
from services.notifier.domain.deployment_rate_limit import DeploymentTokenBucket
from services.notifier.domain.rate_limit import (
    BucketLevel,
    RateLimiter,
    RateLimitUnavailable,
    Reservation,
    ReservationRequest,
    TokenBucket,
    reserve_tokens,
)
from services.notifier.settings import NotifierSettings, RateLimitScope
from shared.clock import Clock
from shared.contracts import Channel
from shared.db import insert_ignoring_duplicates


class SqlTokenStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def reserve(self, name: str, request: ReservationRequest) -> Reservation:
        try:
            async with self._sessions() as session, session.begin():
                level = await self._lock_row(session, name)
                if level is None:  # first use of this limit: the row starts full
                    await insert_ignoring_duplicates(
                        session,
                        rate_limits,
                        [{"name": name, "tokens": request.burst, "updated_at": request.now}],
                    )
                    level = await self._lock_row(session, name)
                new_level, reservation = reserve_tokens(level, request)
                await session.execute(
                    update(rate_limits)
                    .where(rate_limits.c.name == name)
                    .values(tokens=new_level.tokens, updated_at=new_level.updated_at)
                )
        except (SQLAlchemyError, OSError) as error:
            # The transaction did not commit (or its outcome is unknown: then the tokens it
            # took are lost, never handed out twice).
            raise RateLimitUnavailable(f"rate limit {name!r}: {type(error).__name__}") from error
        return reservation

    @staticmethod
    async def _lock_row(session: AsyncSession, name: str) -> BucketLevel | None:
        if session.get_bind().dialect.name == "sqlite":
            # Reading first would take a shared lock that a concurrent writer's commit turns
            # into SQLITE_BUSY on our write; a write first takes the one writer lock, held to
            # the commit, so read-modify-write runs one transaction at a time.
            await session.execute(
                update(rate_limits)
                .where(rate_limits.c.name == name)
                .values(tokens=rate_limits.c.tokens)
            )
        row = (
            await session.execute(
                select(rate_limits.c.tokens, rate_limits.c.updated_at)
                .where(rate_limits.c.name == name)
                .with_for_update()
            )
        ).first()
        return None if row is None else BucketLevel(row.tokens, row.updated_at)


def rate_limiters(
    settings: NotifierSettings, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> dict[Channel, RateLimiter]:
    """The dispatcher's limit per channel: shared by the deployment (a row per channel in
    ``rate_limits``) or, with ``NOTIFIER_RATE_LIMIT_SCOPE=replica``, this process's own."""
    limits = {
        Channel.email: (settings.email_rate_per_s, settings.email_burst),
        Channel.sms: (settings.sms_rate_per_s, settings.sms_burst),
    }
    if settings.rate_limit_scope is RateLimitScope.replica:
        return {
            channel: TokenBucket(rate, burst, clock) for channel, (rate, burst) in limits.items()
        }
    store = SqlTokenStore(sessions)
    return {
        channel: DeploymentTokenBucket(
            channel.value, rate, burst, clock, store, settings.rate_limit_reserve_s
        )
        for channel, (rate, burst) in limits.items()
    }
