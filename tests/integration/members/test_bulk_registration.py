"""Registering members in bulk (the CSV import): a few statements a chunk, the same members and
consent trail as one at a time, and a phone number never given to two members, even when two
imports race for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from services.notifier.adapters.tables import consent_records, contacts
from services.notifier.handlers.use_cases.members import (
    REGISTER_CHUNK,
    MemberConflict,
    NewMember,
    register,
    register_all,
)
from tests.support import migrated_sessions

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(database_for, "notifier") as sessions:
        yield sessions


def person(n: int, phone: int | None = None, *, insights: bool = False) -> NewMember:
    return NewMember(
        email=f"member{n}@example.org",
        phone=None if phone is None else f"+4479{phone:08d}",
        locale="en",
        preferred_channel="email",
        fallback_channel=None,
        quiet_start=None,
        quiet_end=None,
        prompt_consent=True,
        prompt_consent_source=f"fair {n}",
        insights_consent=insights,
        insights_consent_source=f"form {n}",
    )


async def test_an_import_stores_each_member_with_their_consents_as_one_at_a_time_would(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        earlier = await register(session, person(0, phone=99_999), NOW)
    count = REGISTER_CHUNK * 2 + 50  # three transactions
    members = [person(n, phone=n, insights=n % 2 == 0) for n in range(1, count + 1)]
    members[100] = person(101, phone=99_999)  # taken by the earlier member
    members[300] = person(301, phone=250)  # taken by an earlier row of the same import
    outcomes = await register_all(sessions, members, NOW)

    assert len(outcomes) == count
    conflicts = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, MemberConflict)]
    assert conflicts == [100, 300]
    ids = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert len(set(ids)) == count - 2
    assert earlier not in ids
    async with sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(contacts))
        trail = (
            await session.execute(
                select(consent_records.c.kind, consent_records.c.given, consent_records.c.source)
                .where(consent_records.c.member_id == outcomes[2])
                .order_by(consent_records.c.kind)
            )
        ).all()
        state = (
            await session.execute(select(contacts).where(contacts.c.member_id == outcomes[2]))
        ).one()
    assert stored == 1 + count - 2
    # Member 3 (index 2): prompts given at the fair, insights refused on the form, both recorded.
    assert [tuple(row) for row in trail] == [
        ("insights", False, "form 3"),
        ("prompts", True, "fair 3"),
    ]
    assert (state.email, state.phone, state.prompt_consent, state.insights_consent) == (
        "member3@example.org",
        "+447900000003",
        True,
        False,
    )


async def test_two_imports_racing_for_the_same_numbers_give_each_to_one_member(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """On PostgreSQL both check the numbers before either has stored them: the database
    refuses the second chunk, which is done again one member at a time and reports the
    conflicts. (SQLite's writers take turns, so there the second sees the first's numbers.)"""
    first = [person(n, phone=n) for n in range(120)]
    second = [person(1000 + n, phone=n) for n in range(120)]
    outcomes = await asyncio.gather(
        register_all(sessions, first, NOW), register_all(sessions, second, NOW)
    )
    for n in range(120):
        won = [isinstance(side[n], str) for side in outcomes]
        assert won.count(True) == 1, (n, [side[n] for side in outcomes])
    async with sessions() as session:
        phones = await session.scalar(select(func.count(func.distinct(contacts.c.phone))))
        stored = await session.scalar(select(func.count()).select_from(contacts))
        trail = await session.scalar(select(func.count()).select_from(consent_records))
    assert phones == stored == 120
    assert trail == 2 * 120  # a refused chunk left nothing of itself behind
