"""The time slots each ritual offers, learned from its RitualDue events: the scheduler owns
rituals, and tells the notifier their slots the way it tells their kind, on each due event.
No personal data: a ritual id, its version and local times of day."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import ritual_time_slots
from shared.contracts import RitualDueV1
from shared.db import insert_ignoring_duplicates


async def learn_time_slots(
    session: AsyncSession, events: Sequence[RitualDueV1], now: datetime
) -> None:
    """Keep each ritual's slots as its newest version says. Idempotent, and an event of an
    older version (a late redelivery after an edit) changes nothing. One read for the batch
    (a burst is many members of few rituals), one insert, and an update only for a ritual
    whose version moved on (an edit)."""
    newest: dict[str, RitualDueV1] = {}
    for event in events:
        seen = newest.get(event.ritual_id)
        if seen is None or event.ritual_version > seen.ritual_version:
            newest[event.ritual_id] = event
    if not newest:
        return
    rows = {
        ritual_id: {
            "ritual_id": ritual_id,
            "time_slots": ",".join(event.time_slots),
            "ritual_version": event.ritual_version,
            "learned_at": now,
        }
        for ritual_id, event in newest.items()
    }
    stored = await session.execute(
        select(ritual_time_slots.c.ritual_id, ritual_time_slots.c.ritual_version).where(
            ritual_time_slots.c.ritual_id.in_(sorted(rows))
        )
    )
    known = {row.ritual_id: row.ritual_version for row in stored}
    await insert_ignoring_duplicates(
        session, ritual_time_slots, [row for key, row in rows.items() if key not in known]
    )
    for ritual_id, row in rows.items():
        if ritual_id in known and known[ritual_id] < row["ritual_version"]:
            await session.execute(
                update(ritual_time_slots)
                .where(ritual_time_slots.c.ritual_id == ritual_id)
                .values(row)
            )


async def time_slots_of(
    session: AsyncSession, ritual_ids: Collection[str]
) -> dict[str, tuple[str, ...]]:
    """ritual id -> its slots (the default first); a ritual without any is left out."""
    if not ritual_ids:
        return {}
    rows = await session.execute(
        select(ritual_time_slots.c.ritual_id, ritual_time_slots.c.time_slots).where(
            ritual_time_slots.c.ritual_id.in_(sorted(ritual_ids))
        )
    )
    return {row.ritual_id: tuple(row.time_slots.split(",")) for row in rows if row.time_slots}
