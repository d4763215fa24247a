"""The transactional outbox: events leave a service only after the fact they report is stored.

A handler writes its state change and the events it implies in one database transaction; the
relay publishes what is in the outbox to JetStream (``Nats-Msg-Id`` = the event's deterministic
id) and deletes it once the stream acknowledged. A crash anywhere in between leaves the row in
place, so it is published again: a duplicate the stream and the consumers absorb, never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
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
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts.base import Event
from shared.db import UtcDateTime, insert_ignoring_duplicates
from shared.messaging.publisher import (
    MSG_ID_HEADER,
    BatchPublisher,
    RawMessage,
    crosses_anonymity_line,
    encode_event,
)
from shared.tracing import current_trace_headers

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        # Extra headers as JSON (dead letters carry their reason, events the trace context
        # they were staged in); null for the rest.
        Column("headers", Text, nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
        Index("ix_outbox_created_at", "created_at"),
    )


async def stage_events(
    session: AsyncSession, table: Table, events: list[Event], now: datetime
) -> int:
    """Add events to the outbox inside the caller's transaction; a known event id is skipped.

    Each keeps the trace context it was staged in (an HTTP request, a consumed message), so
    its publication continues that trace; events for insights never do (``publisher``)."""
    trace = current_trace_headers()
    traced = json.dumps(trace) if trace else None
    rows = [
        {
            "event_id": event.event_id,
            "subject": event.subject,
            "payload": body,
            "headers": None if crosses_anonymity_line(event.subject) else traced,
            "created_at": now,
        }
        for event in events
        for _subject, body, _headers in [encode_event(event)]
    ]
    return await insert_ignoring_duplicates(session, table, rows)


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
        publisher: BatchPublisher,
        batch_size: int = 500,
        sweep_interval_s: float = 1.0,
    ) -> None:
        self._table = table
        self._sessions = sessions
        self._publisher = publisher
        self._batch_size = batch_size
        self._sweep_interval_s = sweep_interval_s
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Ask the relay to run now (after a commit that staged events)."""
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events were published and removed."""
        table = self._table
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.c.event_id, table.c.subject, table.c.payload, table.c.headers)
                    # Rows staged in one transaction leave in the order of their ids (the
                    # insights release relies on it: keyed ids, an order nobody can predict).
                    .order_by(table.c.created_at, table.c.event_id)
                    .limit(self._batch_size)
                    # Several replicas relay side by side without publishing the same row twice.
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self._publisher.publish_many([self._message(row) for row in rows])
            await session.execute(
                delete(table).where(table.c.event_id.in_([row.event_id for row in rows]))
            )
        return len(rows)

    @staticmethod
    def _message(row: Any) -> RawMessage:
        # The trace context it was staged in travels as its headers: the consumer continues
        # that trace (events for insights were staged without one).
        headers: dict[str, str] = {
            **(json.loads(row.headers) if row.headers else {}),
            MSG_ID_HEADER: row.event_id,
            "content-type": "application/json",
        }
        return row.subject, row.payload, headers

    async def backlog(self) -> int:
        """Rows staged and not yet published (metrics: ``rituals_outbox_backlog``)."""
        async with self._sessions() as session:
            return int(
                (await session.execute(select(func.count()).select_from(self._table))).scalar_one()
            )

    async def drain(self) -> int:
        total = 0
        while published := await self.relay_once():
            total += published
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Relay whenever kicked, and sweep periodically for rows a crash left behind."""
        while not stop.is_set():
            try:
                await self.drain()
            except Exception as error:  # the next sweep retries; rows stay in the outbox
                log.warning("outbox relay failed: %s; will retry", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sweep_interval_s)
            self._wake.clear()
