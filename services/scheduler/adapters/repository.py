"""Queries the scheduler's handlers and API share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.adapters.tables import (
    communities,
    enrolments,
    member_ritual_choices,
    rituals,
    schedule_cursors,
)
from services.scheduler.domain.ritual import NudgePolicy, Ritual
from services.scheduler.domain.time_slots import split_slots
from shared.contracts import RitualChoice, RitualKind
from shared.db import insert_ignoring_duplicates


def ritual_from_row(row: Row[Any]) -> Ritual:
    return Ritual(
        id=row.id,
        community_id=row.community_id,
        community_timezone=row.community_timezone,
        kind=RitualKind(row.kind),
        rrule=row.rrule,
        dtstart_local=row.dtstart_local,
        exdates=split_exdates(row.exdates),
        pinned_to_community_zone=row.pinned_to_community_zone,
        template_key=row.template_key,
        response_window_s=row.response_window_s,
        misfire_grace_s=row.misfire_grace_s,
        nudges=NudgePolicy(
            after=timedelta(seconds=row.nudge_after_s) if row.nudge_after_s else None,
            max_nudges=row.max_nudges,
        ),
        version=row.version,
        active=row.active,
        time_slots=split_slots(row.time_slots),
    )


def split_exdates(text: str) -> tuple[str, ...]:
    return tuple(part for part in (text or "").split(",") if part)


def join_exdates(exdates: list[str] | tuple[str, ...]) -> str:
    return ",".join(sorted(set(exdates)))


def ritual_query() -> Any:
    """Rituals with their community's zone: what ``ritual_from_row`` reads.

    The zone is a scalar subquery per ritual rather than a join: joined, PostgreSQL combined
    the primary-key lookup of a tick's due rituals with a scan of the community index
    (``BitmapAnd``), reading every ritual of the community, a million index entries for a
    community that large, where the rituals' own primary key names the few it needs."""
    zone = (
        select(communities.c.timezone)
        .where(communities.c.id == rituals.c.community_id)
        .scalar_subquery()
    )
    return select(rituals, zone.label("community_timezone"))


async def load_ritual(session: AsyncSession, ritual_id: str) -> Ritual | None:
    row = (await session.execute(ritual_query().where(rituals.c.id == ritual_id))).first()
    return ritual_from_row(row) if row else None


async def load_rituals(session: AsyncSession, ritual_ids: Sequence[str]) -> dict[str, Ritual]:
    rows = (await session.execute(ritual_query().where(rituals.c.id.in_(ritual_ids)))).all()
    return {row.id: ritual_from_row(row) for row in rows}


async def community_rituals(session: AsyncSession, community_id: str) -> list[Ritual]:
    rows = (
        await session.execute(ritual_query().where(rituals.c.community_id == community_id))
    ).all()
    return [ritual_from_row(row) for row in rows]


async def member_zones(session: AsyncSession, community_id: str) -> set[str]:
    rows = await session.execute(
        select(enrolments.c.timezone).where(enrolments.c.community_id == community_id).distinct()
    )
    return set(rows.scalars())


CursorKey = tuple[str, str, int]  # ritual id, zone, slot


async def members_by_cursor(
    session: AsyncSession, cursors: Sequence[tuple[Ritual, str, int]]
) -> dict[CursorKey, list[str]]:
    """Members each (ritual, zone, slot) cursor fires for, in one query for the whole batch:
    those living in the zone (any zone, if the ritual is pinned) whose slot it is (a member
    who chose none, or a time no longer offered, has the default, 0), minus those who paused
    or stopped the ritual."""
    community_ids = sorted({ritual.community_id for ritual, _, _ in cursors})
    rows = await session.execute(
        select(enrolments.c.community_id, enrolments.c.timezone, enrolments.c.member_id)
        .where(enrolments.c.community_id.in_(community_ids))
        .order_by(enrolments.c.member_id)
    )
    by_community: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_community.setdefault(row.community_id, []).append((row.timezone, row.member_id))
    held, slot_chosen = await choices_of_members(
        session, sorted({ritual.id for ritual, _, _ in cursors})
    )
    return {
        (ritual.id, zone, slot): [
            member
            for member_zone, member in by_community.get(ritual.community_id, [])
            if (ritual.pinned_to_community_zone or member_zone == zone)
            and (member, ritual.id) not in held
            and ritual.slot_of(slot_chosen.get((member, ritual.id))) == slot
        ]
        for ritual, zone, slot in cursors
    }


async def choices_of_members(
    session: AsyncSession, ritual_ids: Sequence[str]
) -> tuple[set[tuple[str, str]], dict[tuple[str, str], str]]:
    """Among ``ritual_ids``, in one query for the batch: the (member, ritual) pairs the member
    has paused or stopped (preferences page), and the time slot each member chose where they
    chose one."""
    if not ritual_ids:
        return set(), {}
    choices = member_ritual_choices.c
    rows = await session.execute(
        select(choices.member_id, choices.ritual_id, choices.choice, choices.time_slot).where(
            choices.ritual_id.in_(ritual_ids)
            & ((choices.choice != RitualChoice.active.value) | choices.time_slot.is_not(None))
        )
    )
    held: set[tuple[str, str]] = set()
    slots: dict[tuple[str, str], str] = {}
    for row in rows:
        if row.choice != RitualChoice.active.value:
            held.add((row.member_id, row.ritual_id))
        if row.time_slot is not None:
            slots[(row.member_id, row.ritual_id)] = row.time_slot
    return held, slots


async def advance_cursors(
    session: AsyncSession, advances: Sequence[tuple[CursorKey, datetime | None]]
) -> None:
    """Move each (ritual, zone, slot) cursor to its next occurrence, or retire it (None): one
    statement for the moves and one for the retirements, whatever the batch size."""
    moves = [
        {"key_ritual": ritual_id, "key_zone": zone, "key_slot": slot, "next_due": next_due}
        for (ritual_id, zone, slot), next_due in advances
        if next_due is not None
    ]
    retired = [key for key, next_due in advances if next_due is None]
    cursor = schedule_cursors.c
    if moves:
        await session.execute(
            update(schedule_cursors)
            .where(
                (cursor.ritual_id == bindparam("key_ritual"))
                & (cursor.timezone == bindparam("key_zone"))
                & (cursor.slot == bindparam("key_slot"))
            )
            .values(next_due_at=bindparam("next_due")),
            moves,
        )
    if retired:
        await session.execute(
            delete(schedule_cursors).where(
                tuple_(cursor.ritual_id, cursor.timezone, cursor.slot).in_(retired)
            )
        )


async def plan_cursors(session: AsyncSession, ritual: Ritual, now: datetime) -> int:
    """Make sure each zone this ritual fires in has a cursor per time slot at its next
    occurrence after now.

    Existing cursors are left alone: they already point at the next unsent occurrence. A
    paused ritual has no cursors. A slot nobody in a zone has chosen gets one too; its first
    tick retires it (as a zone nobody lives in), and a member's choice plans it again.
    """
    if not ritual.active:
        return 0
    if ritual.pinned_to_community_zone:
        zones = {ritual.community_timezone}
    else:
        zones = await member_zones(session, ritual.community_id)
    rows = []
    for zone in sorted(zones):
        for slot in range(ritual.slot_count):
            next_due = ritual.next_occurrence(zone, now, slot)
            if next_due is not None:
                rows.append(
                    {
                        "ritual_id": ritual.id,
                        "timezone": zone,
                        "slot": slot,
                        "next_due_at": next_due,
                    }
                )
    return await insert_ignoring_duplicates(session, schedule_cursors, rows)


async def drop_cursors(session: AsyncSession, ritual_id: str) -> None:
    await session.execute(delete(schedule_cursors).where(schedule_cursors.c.ritual_id == ritual_id))


async def replan_cursors(session: AsyncSession, ritual: Ritual, now: datetime) -> int:
    """After an edit or a resume: drop the ritual's cursors and plan them afresh from now."""
    await drop_cursors(session, ritual.id)
    return await plan_cursors(session, ritual, now)


async def lock_ritual_cursors(session: AsyncSession, ritual_id: str) -> list[Row[Any]]:
    """Hold the ritual's cursors so no tick (of any replica) handles them meanwhile."""
    rows = await session.execute(
        select(schedule_cursors).where(schedule_cursors.c.ritual_id == ritual_id).with_for_update()
    )
    return list(rows.all())
