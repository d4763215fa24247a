"""The transactional outbox: events leave a service only after the fact they report is stored.

A handler writes its state change and the events it implies in one database transaction; the
relay publishes what is in the outbox to JetStream (``Nats-Msg-Id`` = the event's deterministic
id) and deletes it once the stream acknowledged. A crash anywhere in between leaves the row in
place, so it is published again: a duplicate the stream and the consumers absorb, never a loss.

Held events (``stage_held_events``) wait for their ``release_at`` on the injected clock and then
leave together, in the order of their (keyed) ids rather than the order they were staged: the
notifier publishes anonymised facts that way, so that neither their timing nor their order
matches the identity events they came from. Until released, a held event can be replaced (the
latest answer counts) or retracted (an erasure, a consent withdrawn) by its ``retract_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import Clock, SystemClock
from shared.contracts.base import Event
from shared.db import UtcDateTime, insert_ignoring_duplicates
from shared.messaging.publisher import RawPublisher, encode_event

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        # Extra headers as JSON (dead letters carry their reason); null for plain events.
        Column("headers", Text, nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
        # Held events only: not published before this instant (null: at once).
        Column("release_at", UtcDateTime(), nullable=True),
        # Held events only: the pseudonym they belong to, so they can be retracted unpublished.
        Column("retract_key", String(80), nullable=True),
        Index("ix_outbox_created_at", "created_at"),
        Index("ix_outbox_retract_key", "retract_key"),
    )


async def stage_events(
    session: AsyncSession, table: Table, events: list[Event], now: datetime
) -> int:
    """Add events to the outbox inside the caller's transaction; a known event id is skipped."""
    rows = [
        {
            "event_id": event.event_id,
            "subject": event.subject,
            "payload": body,
            "headers": None,
            "created_at": now,
        }
        for event in events
        for _subject, body, _headers in [encode_event(event)]
    ]
    return await insert_ignoring_duplicates(session, table, rows)


async def stage_held_events(
    session: AsyncSession,
    table: Table,
    events: Sequence[tuple[Event, str | None]],
    now: datetime,
    release_at: datetime,
) -> int:
    """Hold ``(event, retract_key)`` pairs until ``release_at``, inside the caller's transaction.

    An event staged again under the same id before its release replaces the held one (its
    payload and release time): the latest version is the one that leaves. Nothing is staged once
    ``release_at`` has come: the batch has left, and a straggler would leave alone, where its
    timing would single it out. Returns how many rows were staged or replaced.
    """
    if not events or release_at <= now:
        return 0
    rows = [
        {
            "event_id": event.event_id,
            "subject": event.subject,
            "payload": encode_event(event)[1],
            "headers": None,
            "created_at": now,
            "release_at": release_at,
            "retract_key": retract_key,
        }
        for event, retract_key in events
    ]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.event_id],
        set_={
            "payload": statement.excluded.payload,
            "release_at": statement.excluded.release_at,
            "retract_key": statement.excluded.retract_key,
        },
        # Only while still held: an event already due (or plain) is never rewritten.
        where=table.c.release_at.is_not(None) & (table.c.release_at > now),
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def retract_held_events(
    session: AsyncSession, table: Table, retract_keys: Collection[str], now: datetime
) -> int:
    """Drop held events of these pseudonyms that have not been released yet."""
    if not retract_keys:
        return 0
    result = await session.execute(
        delete(table).where(
            table.c.retract_key.in_(list(retract_keys))
            & table.c.release_at.is_not(None)
            & (table.c.release_at > now)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def stage_raw(
    session: AsyncSession,
    table: Table,
    message_id: str,
    subject: str,
    payload: bytes,
    headers: dict[str, str],
    now: datetime,
) -> int:
    """Stage a message that is not one of our events (a dead letter with its reason)."""
    row = {
        "event_id": message_id,
        "subject": subject,
        "payload": payload,
        "headers": json.dumps(headers),
        "created_at": now,
    }
    return await insert_ignoring_duplicates(session, table, [row])


class OutboxRelay:
    def __init__(
        self,
        table: Table,
        sessions: async_sessionmaker[AsyncSession],
        publisher: RawPublisher,
        batch_size: int = 500,
        sweep_interval_s: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self._table = table
        self._sessions = sessions
        self._publisher = publisher
        self._clock: Clock = clock or SystemClock()
        self._batch_size = batch_size
        self._sweep_interval_s = sweep_interval_s
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Ask the relay to run now (after a commit that staged events)."""
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events were published and removed."""
        table = self._table
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.c.event_id, table.c.subject, table.c.payload, table.c.headers)
                    .where(or_(table.c.release_at.is_(None), table.c.release_at <= now))
                    # Held events leave as of their release, in the order of their ids.
                    .order_by(
                        func.coalesce(table.c.release_at, table.c.created_at), table.c.event_id
                    )
                    .limit(self._batch_size)
                    # Several replicas relay side by side without publishing the same row twice.
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await asyncio.gather(
                *(
                    self._publisher.publish_raw(
                        row.subject,
                        row.payload,
                        {
                            **(json.loads(row.headers) if row.headers else {}),
                            "Nats-Msg-Id": row.event_id,
                            "content-type": "application/json",
                        },
                    )
                    for row in rows
                )
            )
            await session.execute(
                delete(table).where(table.c.event_id.in_([row.event_id for row in rows]))
            )
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while published := await self.relay_once():
            total += published
        return total

    async def next_release(self) -> datetime | None:
        """When the earliest held event that is not yet due falls due."""
        table = self._table
        async with self._sessions() as session:
            earliest: datetime | None = (
                await session.execute(
                    select(func.min(table.c.release_at)).where(
                        table.c.release_at > self._clock.now()
                    )
                )
            ).scalar()
        return earliest

    async def run(self, stop: asyncio.Event) -> None:
        """Relay whenever kicked or a held event falls due (on the injected clock), and sweep
        periodically for rows a crash left behind."""
        while not stop.is_set():
            release: datetime | None = None
            try:
                await self.drain()
                release = await self.next_release()
            except Exception as error:  # the next sweep retries; rows stay in the outbox
                log.warning("outbox relay failed: %s; will retry", type(error).__name__)
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wake.wait())]
            if release is not None:
                waits.append(asyncio.ensure_future(self._clock.sleep_until(release)))
            try:
                await asyncio.wait(
                    waits, timeout=self._sweep_interval_s, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiting in waits:
                    waiting.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiting
            self._wake.clear()
