"""A member paused, resumed or stopped one ritual, or chose one of its time slots, on the
notifier's preferences page.

The choice is stored per (member, ritual); ``repository.members_by_cursor`` leaves out members
whose choice holds the ritual, so no due event is emitted for them while it lasts, and gives
each cursor only the members whose slot it is. Idempotent on the event id, and the latest
choice wins (by the member's sequence of choices about the ritual): a redelivered or older
event changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import member_ritual_choices
from shared.contracts import MemberRitualChoiceV1, RitualChoice
from shared.db import insert_ignoring_duplicates


async def on_member_ritual_choice(
    sessions: async_sessionmaker[AsyncSession], event: MemberRitualChoiceV1, now: datetime
) -> str:
    """Store the choice; returns what happened (``applied``, ``duplicate``, ``stale``)."""
    async with sessions() as session, session.begin():
        outcome = await _store(session, event)
        if outcome == "applied" and event.choice is RitualChoice.active:
            await _plan_again(session, event.ritual_id, now)
    return outcome


async def _store(session: AsyncSession, event: MemberRitualChoiceV1) -> str:
    key = (member_ritual_choices.c.member_id == event.member_id) & (
        member_ritual_choices.c.ritual_id == event.ritual_id
    )
    values = {
        "choice": event.choice.value,
        "chosen_at": event.occurred_at,
        "sequence": event.sequence,
        "event_id": event.event_id,
        "time_slot": event.time_slot,
    }
    inserted = await insert_ignoring_duplicates(
        session,
        member_ritual_choices,
        [{"member_id": event.member_id, "ritual_id": event.ritual_id, **values}],
    )
    if inserted:
        return "applied"
    current = (
        await session.execute(select(member_ritual_choices).where(key).with_for_update())
    ).one()
    if current.event_id == event.event_id:
        return "duplicate"
    if current.sequence >= event.sequence:
        return "stale"
    await session.execute(update(member_ritual_choices).where(key).values(**values))
    return "applied"


async def _plan_again(session: AsyncSession, ritual_id: str, now: datetime) -> None:
    """A tick retires a zone's cursor (of a slot) when no member there receives the ritual
    (at that slot); a resume, or a slot chosen, plans it again from now (existing cursors are
    left alone: no backlog is sent)."""
    ritual = await repository.load_ritual(session, ritual_id)
    if ritual is not None:
        await repository.plan_cursors(session, ritual, now)
