"""The scheduled release: each week the notifier has closed, and each period that week ends,
released once every fact of it has been stored here.

The notifier publishes WeekClosed only after the week's facts were acknowledged by the stream;
this job waits, in addition, until insights' own fact consumers have nothing pending, so a
release never misses a fact that was on its way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import closed_weeks, releases
from services.insights.domain.indicators import Cadence
from services.insights.handlers.release import (
    ReleaseOutcome,
    ReleasePolicy,
    compute_release,
    release_id,
)
from shared.clock import Clock
from shared.streams import RESPONSES

log = logging.getLogger(__name__)

CaughtUp = Callable[[], Awaitable[bool]]


def consumers_caught_up(
    jetstream: Callable[[], JetStreamContext],
    durables: tuple[str, ...],
    patience_s: float = 30.0,
    poll_s: float = 0.2,
) -> CaughtUp:
    """A check that none of ``durables`` on RESPONSES has a message pending or unacknowledged,
    waiting up to ``patience_s`` (real time: messages flowing, not a schedule) for them to
    drain: the facts of a week arrive just before its marker."""

    async def drained() -> bool:
        js = jetstream()
        for durable in durables:
            try:
                info = await js.consumer_info(RESPONSES.name, durable)
            except NotFoundError:
                return False  # not created yet: nothing consumed either
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    async def check() -> bool:
        deadline = asyncio.get_running_loop().time() + patience_s
        while not await drained():
            if asyncio.get_running_loop().time() > deadline:
                return False  # the next beat or marker tries again
            await asyncio.sleep(poll_s)
        return True

    return check


async def release_closed_windows(
    sessions: async_sessionmaker[AsyncSession],
    policy: ReleasePolicy,
    clock: Clock,
    caught_up: CaughtUp,
) -> list[ReleaseOutcome]:
    """Release every closed week and period not released yet, oldest first."""
    async with sessions() as session:
        closed = (
            await session.execute(
                select(closed_weeks.c.iso_week, closed_weeks.c.period_closed).order_by(
                    closed_weeks.c.iso_week
                )
            )
        ).all()
        done = set((await session.execute(select(releases.c.release_id))).scalars())
    due: list[tuple[Cadence, str]] = []
    for week, period in closed:
        if release_id(Cadence.week, week) not in done:
            due.append((Cadence.week, week))
        if period and release_id(Cadence.period, period) not in done:
            due.append((Cadence.period, period))
    if not due or not await caught_up():
        return []
    outcomes = []
    for cadence, window in due:
        outcomes.append(await compute_release(sessions, policy, clock, cadence, window))
    return outcomes
