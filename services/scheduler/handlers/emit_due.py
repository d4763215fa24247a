"""Claim due occurrences, hand over their RitualDue events, advance the cursors: one transaction.

The ticker hands a batch's events straight to JetStream (``hand_over``) and commits the claim
and the cursors' advance only once the stream acknowledged every one; without a ``hand_over``
(an operator's edit flushing a ritual's due occurrences inside its request) they are staged in
the outbox in the same transaction and the relay publishes them after the commit. Either way a
crash at any point neither loses an occurrence (the cursor only moves once its events are in
the stream, or staged) nor repeats one (a republished event carries the same ``Nats-Msg-Id``,
which the stream drops within its hour-long duplicate window; consumers are idempotent on it
beyond that). Publishing before the commit skips the outbox's round trip (insert, select,
delete: about a quarter of a burst's time) for the events that are most of the scheduler's
traffic; the claimed cursors stay locked while their events are published.

With PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets several replicas tick side by side without
claiming the same cursor; SQLite runs one replica.

After an outage, an occurrence missed by less than the ritual's misfire grace is emitted late
(``late=True``); older ones are recorded in ``missed_occurrences`` and not sent in a burst.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import missed_occurrences, outbox, schedule_cursors
from services.scheduler.domain.ritual import Ritual
from shared.contracts import Event
from shared.db import insert_ignoring_duplicates
from shared.outbox import stage_events

log = logging.getLogger(__name__)

# Cursors whose rituals and members a batch reads first (then as many again, doubling).
FIRST_SLICE = 16


@dataclass(frozen=True)
class EmissionPolicy:
    batch_size: int = 500
    # Emitted more than this after its instant (an outage, a backlog): marked late.
    late_after: timedelta = timedelta(minutes=1)
    # Bounds the work one cursor can take in one tick after a very long outage.
    max_occurrences_per_cursor: int = 1000
    # A batch stops taking cursors once it staged this many events: the relay publishes one
    # transaction's events while the next is being built, instead of waiting for a burst's
    # whole first 500 cursors (a community each) to commit at once.
    max_events_per_batch: int = 2000


@dataclass
class TickResult:
    """Counts of one tick, for logs, metrics and tests."""

    cursors: int = 0
    # Claimed by a batch but left for the next one (its event budget was spent).
    deferred_cursors: int = 0
    occurrences: int = 0
    emitted: int = 0
    emitted_late: int = 0
    missed: int = 0
    retired_cursors: int = 0
    nudges: int = 0
    nudges_expired: int = 0

    def add(self, other: TickResult) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def emit_due_batch(
    session: AsyncSession,
    now: datetime,
    policy: EmissionPolicy,
    ritual_id: str | None = None,
    hand_over: HandOver | None = None,
) -> TickResult:
    """Handle up to ``policy.batch_size`` due cursors inside the caller's transaction.

    With ``ritual_id``, only that ritual's (the API flushes due occurrences before an edit).
    With ``hand_over``, the events are published before this returns (the caller commits
    after); without, they are staged in the outbox.
    """
    result = TickResult()
    query = select(schedule_cursors).where(schedule_cursors.c.next_due_at <= now)
    if ritual_id is not None:
        query = query.where(schedule_cursors.c.ritual_id == ritual_id)
    claimed = (
        await session.execute(
            query.order_by(schedule_cursors.c.next_due_at)
            .limit(policy.batch_size)
            .with_for_update(skip_locked=ritual_id is None)
        )
    ).all()
    if not claimed:
        return result
    rituals: dict[str, Ritual] = {}
    members_of: dict[repository.CursorKey, list[str]] = {}
    read_up_to = 0
    events: list[Event] = []
    missed_rows: list[dict[str, object]] = []
    advances: list[tuple[repository.CursorKey, datetime | None]] = []
    for handled_cursors, cursor in enumerate(claimed):
        if len(events) >= policy.max_events_per_batch:
            # Still locked by this transaction until it commits; the next batch claims it.
            result.deferred_cursors = len(claimed) - handled_cursors
            break
        if handled_cursors == read_up_to:
            # Rituals and members are read a slice of cursors at a time, each slice as long as
            # all before it: a batch that spends its event budget on its first cursors never
            # reads the members of the other 480 (a burst of 100,000 in communities of 100
            # read 2.5 million enrolment rows that way).
            part = claimed[read_up_to : read_up_to + max(FIRST_SLICE, read_up_to)]
            read_up_to += len(part)
            rituals |= await repository.load_rituals(
                session, sorted({row.ritual_id for row in part})
            )
            live = [
                (rituals[c.ritual_id], c.timezone, c.slot) for c in part if c.ritual_id in rituals
            ]
            members_of |= await repository.members_by_cursor(session, live)
        result.cursors += 1
        key = (cursor.ritual_id, cursor.timezone, cursor.slot)
        ritual = rituals.get(cursor.ritual_id)
        if ritual is None or not ritual.active or cursor.slot >= ritual.slot_count:
            advances.append((key, None))
            result.retired_cursors += 1
            continue
        members = members_of[key]
        if not members and (cursor.slot or not ritual.pinned_to_community_zone):
            # Nobody in this zone receives it at this slot (any more); an enrolment there, or
            # a member's choice of the slot, plans it again.
            advances.append((key, None))
            result.retired_cursors += 1
            continue
        occurrence: datetime | None = cursor.next_due_at
        handled = 0
        while (
            occurrence is not None
            and occurrence <= now
            and handled < policy.max_occurrences_per_cursor
        ):
            handled += 1
            result.occurrences += 1
            lateness = now - occurrence
            if lateness > ritual.misfire_grace:
                result.missed += len(members)
                missed_rows.append(
                    {
                        "ritual_id": ritual.id,
                        "timezone": cursor.timezone,
                        "occurrence_at": occurrence,
                        "ritual_version": ritual.version,
                        "members": len(members),
                        "recorded_at": now,
                    }
                )
            else:
                late = lateness > policy.late_after
                events.extend(ritual.due_events(members, cursor.timezone, occurrence, now, late))
                result.emitted += len(members)
                result.emitted_late += len(members) if late else 0
            occurrence = ritual.next_occurrence(cursor.timezone, occurrence, cursor.slot)
        advances.append((key, occurrence))
    await repository.advance_cursors(session, advances)
    await insert_ignoring_duplicates(session, missed_occurrences, missed_rows)
    if hand_over is None:
        await stage_events(session, outbox, events, now)
    elif events:
        await hand_over(events)
    return result


BatchStep = Callable[[AsyncSession, datetime, EmissionPolicy], Awaitable[TickResult]]
# Publishes a batch's events and returns once the stream acknowledged them all (or raises).
HandOver = Callable[[list[Event]], Awaitable[None]]


async def in_batches(
    sessions: async_sessionmaker[AsyncSession],
    step: BatchStep,
    now: datetime,
    policy: EmissionPolicy,
    on_committed: Callable[[], None] | None = None,
) -> TickResult:
    """Run ``step`` batch by batch, each batch its own transaction, until one is not full.

    ``on_committed`` runs after each batch that staged events commits (the ticker kicks the
    outbox relay there, so publishing overlaps the next batch)."""
    total = TickResult()
    while True:
        async with sessions() as session, session.begin():
            batch = await step(session, now, policy)
        total.add(batch)
        if on_committed is not None and (batch.emitted or batch.nudges):
            on_committed()
        claimed = batch.cursors + batch.deferred_cursors
        if claimed < policy.batch_size and not batch.deferred_cursors:
            return total


async def emit_due_occurrences(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    policy: EmissionPolicy,
    on_committed: Callable[[], None] | None = None,
    hand_over: HandOver | None = None,
) -> TickResult:
    """Everything due at ``now``: published by ``hand_over`` before each batch commits, or
    staged in the outbox without one."""

    async def step(session: AsyncSession, now: datetime, policy: EmissionPolicy) -> TickResult:
        return await emit_due_batch(session, now, policy, hand_over=hand_over)

    total = await in_batches(sessions, step, now, policy, on_committed)
    if total.occurrences:
        log.info(
            "tick: occurrences=%s emitted=%s late=%s missed=%s",
            total.occurrences,
            total.emitted,
            total.emitted_late,
            total.missed,
        )
    return total
