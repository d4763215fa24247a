"""The lease a dispatcher holds on one claimed batch, renewed for the whole batch at once.

A claim leases its rows until ``claimed_at + length`` under a token of its own. Before each
hand-over the dispatcher asks whether the row is still its own: while more than half the lease
is left, nobody else can have claimed it (a claim needs the lease to have ended), so the answer
costs nothing; past the half, one UPDATE renews every row of the batch not yet finished, and a
row that no longer carries our token (another replica claimed it after we stalled) is lost: not
sent here. That assumes replicas' clocks agree within half a lease (a minute by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.deliveries import Deliveries
from shared.clock import Clock


class BatchLease:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        length: timedelta,
        ids: Collection[str],
        held_until: datetime,
        token: str,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._length = length
        self._ids = set(ids)
        self._until = held_until
        self.token = token
        self._finished: set[str] = set()
        self._lost: set[str] = set()
        self._renewing = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._clock.now() < self._until - self._length / 2

    async def still_ours(self, delivery_id: str) -> bool:
        """Whether ``delivery_id`` may be handed over now (renewing the batch's lease if it
        is past its half)."""
        if delivery_id in self._lost:
            return False
        if not self._fresh():
            async with self._renewing:
                if not self._fresh():
                    await self._renew()
        return delivery_id not in self._lost

    def finished(self, delivery_id: str) -> None:
        """Its outcome is written: later renewals leave it alone."""
        self._finished.add(delivery_id)

    async def _renew(self) -> None:
        pending = self._ids - self._finished - self._lost
        until = self._clock.now() + self._length
        async with self._sessions() as session, session.begin():
            renewed = await Deliveries(session).renew_leases(pending, self.token, until)
        # A row finished while we renewed is not lost: it is no longer asked about.
        self._lost |= pending - renewed - self._finished
        self._until = until
