"""Rebuild by replay: a fresh database gets the same facts live insights holds, no fact of an
erased respondent, and the releases already published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import DatabaseFor, LocalSystem
from services.insights.rebuild import rebuild
from shared.clock import ManualClock
from tests.support import eventually, read_database

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
PEOPLE = tuple(
    Person(f"P{n}", f"p{n}@riverside.example", "Europe/London", shares_answers=True)
    for n in range(4)
)
FACTS = ("response_facts", "signposting_facts", "prompted_facts", "period_facts")
KEPT = ("releases", "release_values", "budget_ledger", "closed_weeks")


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[LocalSystem]:
    # The stream scrub waits a day: the replay meets the erased member's facts and must drop
    # them itself (the tombstones come first).
    overrides = {"erasure_scrub_delay_minutes": 24 * 60}
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as local:
        yield local


def _rows(tables: dict[str, list[dict[str, Any]]], name: str) -> set[tuple[Any, ...]]:
    return {tuple(sorted(row.items())) for row in tables[name]}


async def test_a_rebuild_holds_the_same_facts_and_keeps_the_releases(system: LocalSystem) -> None:
    community = await set_up_weekly_check_in(system, PEOPLE)
    async with aiohttp.ClientSession() as browser:
        for week in range(2):
            await system.advance_to(MONDAY_0900 + timedelta(weeks=week))
            await system.smtp.wait_for(len(PEOPLE) * (week + 1))
            for n, person in enumerate(PEOPLE):
                await answer(browser, system.smtp.to(person.email)[-1], 1 + (n + week) % 5)
    await system.close_week("2027-W02")

    async def both_released() -> bool:
        periods = await system.clients["insights-analyst"].get_all("/v1/periods")
        return len(periods) == 2

    await eventually(both_released, timeout_s=30)
    erased = community.member_ids[PEOPLE[0].email]
    await system.advance_to(system.clock.now() + timedelta(hours=2))  # scrub: tomorrow 02:00
    await system.clients["notifier"].delete(f"/v1/members/{erased}")
    await system.release_erasures()

    async def tombstoned() -> bool:
        tables = await read_database(system.database_for, "insights")
        return bool(tables["erased_respondents"])

    await eventually(tombstoned)
    live = await read_database(system.database_for, "insights")
    source_url, source_schema = system.database_for("insights")
    target_url, target_schema = system.database_for("insights_rebuilt")
    report = await rebuild(system.nats.url, source_url, source_schema, target_url, target_schema)
    rebuilt = await read_database(system.database_for, "insights_rebuilt")

    for name in (*FACTS, *KEPT, "communities", "erased_respondents"):
        assert _rows(rebuilt, name) == _rows(live, name), name
    # The erased member's facts are still on the stream; the replay stored none of them.
    assert len(live["response_facts"]) == 6  # 8 answers, 2 of them erased
    assert report.replayed["responses.received.v2"] == 8
    assert report.copied["releases"] == 2
