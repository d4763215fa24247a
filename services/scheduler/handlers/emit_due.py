"""Claim due occurrences, stage their RitualDue events, advance the cursors: one transaction.

Claim, stage and advance commit together, and the outbox relay publishes afterwards, so a crash
at any point neither loses an occurrence (the cursor only moves with its events staged) nor
repeats one (a replayed publish carries the same ``Nats-Msg-Id``; consumers are idempotent on
it). With PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets several replicas tick side by side without
claiming the same cursor; SQLite runs one replica.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import missed_occurrences, outbox, schedule_cursors
from shared.contracts import Event
from shared.db import insert_ignoring_duplicates
from shared.outbox import stage_events

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    """Counts of one tick, for logs, metrics and tests."""

    occurrences: int = 0
    emitted: int = 0
    emitted_late: int = 0
    missed: int = 0
    batches: int = 0
    ritual_ids: set[str] = field(default_factory=set)

    def add(self, other: TickResult) -> None:
        self.occurrences += other.occurrences
        self.emitted += other.emitted
        self.emitted_late += other.emitted_late
        self.missed += other.missed
        self.batches += other.batches
        self.ritual_ids |= other.ritual_ids


async def emit_due_batch(session: AsyncSession, now: datetime, batch_size: int) -> TickResult:
    """Handle up to ``batch_size`` due cursors inside the caller's transaction."""
    result = TickResult(batches=1)
    claimed = (
        await session.execute(
            select(schedule_cursors)
            .where(schedule_cursors.c.next_due_at <= now)
            .order_by(schedule_cursors.c.next_due_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not claimed:
        result.batches = 0
        return result
    rituals = await repository.load_rituals(session, sorted({row.ritual_id for row in claimed}))
    events: list[Event] = []
    for cursor in claimed:
        ritual = rituals.get(cursor.ritual_id)
        if ritual is None:
            continue
        occurrence = cursor.next_due_at
        result.occurrences += 1
        result.ritual_ids.add(ritual.id)
        if ritual.active:
            members = await repository.members_to_prompt(session, ritual, cursor.timezone)
            lateness = now - occurrence
            if lateness > timedelta(seconds=ritual.misfire_grace_s):
                result.missed += len(members)
                await insert_ignoring_duplicates(
                    session,
                    missed_occurrences,
                    [
                        {
                            "ritual_id": ritual.id,
                            "timezone": cursor.timezone,
                            "occurrence_at": occurrence,
                            "ritual_version": ritual.version,
                            "members": len(members),
                            "recorded_at": now,
                        }
                    ],
                )
            else:
                late = lateness > timedelta(0)
                for member_id in members:
                    events.append(
                        ritual.due_event(member_id, cursor.timezone, occurrence, now, late)
                    )
                result.emitted += len(members)
                result.emitted_late += len(members) if late else 0
        # A paused ritual skips its occurrences rather than saving them up for its resume.
        next_due = ritual.next_occurrence(cursor.timezone, occurrence)
        await repository.advance_cursor(session, ritual.id, cursor.timezone, next_due)
    await stage_events(session, outbox, events, now)
    return result


async def emit_due_occurrences(
    sessions: async_sessionmaker[AsyncSession], now: datetime, batch_size: int
) -> TickResult:
    """Everything due at ``now``, batch by batch, each batch its own transaction."""
    total = TickResult()
    while True:
        async with sessions() as session, session.begin():
            batch = await emit_due_batch(session, now, batch_size)
        total.add(batch)
        if batch.occurrences < batch_size:
            break
    if total.occurrences:
        log.info(
            "tick: occurrences=%s emitted=%s late=%s missed=%s",
            total.occurrences,
            total.emitted,
            total.emitted_late,
            total.missed,
        )
    return total
