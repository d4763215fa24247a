"""The weekly release to insights: once per week, after it closes, consenting members only; an
answer that comes after the close stays in the notifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.contracts import PromptAnsweredV1, ResponseReceivedV2
from tests.support import NatsTap, eventually, read_database

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
BEA = Person("Bea", "bea@riverside.example", "Europe/London", shares_answers=True)
CAL = Person("Cal", "cal@riverside.example", "Europe/London", shares_answers=True)


async def test_a_week_leaves_once_after_it_closes_with_consenting_members_only(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    # A fortnight to answer: links still work after the week has closed (9 days on).
    community = await set_up_weekly_check_in(
        system, (ANA, BEA, CAL), response_window_minutes=14 * 24 * 60
    )
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(3)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[0], 2)
        await answer(browser, system.smtp.to(BEA.email)[0], 3)
    # Bea changes her mind about sharing before the week closes: nothing of hers leaves.
    await system.clients["notifier"].post(
        f"/v1/members/{community.member_ids[BEA.email]}/consents",
        {"kind": "insights", "given": False, "source": "settings page"},
    )
    await eventually(lambda: len(nats_tap.on(PromptAnsweredV1.subject)) == 2)
    closes = await system.close_week("2027-W01")
    (fact,) = await eventually(lambda: nats_tap.on(ResponseReceivedV2.subject))
    assert ResponseReceivedV2.model_validate_json(fact.data).value == 2  # Ana's

    # Cal answers after the close: recorded, thanked, never forwarded (alone, its timing would
    # single Cal out).
    await system.advance_to(closes + timedelta(days=1))
    async with aiohttp.ClientSession() as browser:
        assert "Thank you" in await answer(browser, system.smtp.to(CAL.email)[0], 4)
    notifier = await read_database(system.database_for, "notifier")
    assert len(notifier["answers"]) == 3
    # Later sweeps (and restarts) find the week released: nothing is published again.
    await system.advance_to(closes + timedelta(days=8))
    await eventually(lambda: len(nats_tap.on(PromptAnsweredV1.subject)) == 3)
    released = {row["iso_week"]: row["facts"] for row in notifier["insights_weeks"]}
    assert released["2027-W01"] == 3  # Ana's answer; Ana and Cal prompted (Bea withdrew)
    assert len(nats_tap.on(ResponseReceivedV2.subject)) == 1
    stored = await eventually(lambda: _answers_stored(system))
    assert stored == [2]


async def _answers_stored(system: LocalSystem) -> list[int]:
    insights = await read_database(system.database_for, "insights")
    return [row["value"] for row in insights["response_facts"]]


async def test_the_latest_answer_of_the_week_is_the_one_that_leaves(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    """Two prompts in one week (a daily check-in): the week's fact is the later answer."""
    await set_up_weekly_check_in(system, (ANA,), rrule="FREQ=DAILY;COUNT=2")
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(1)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[0], 1)
    await system.advance_to(MONDAY_0900 + timedelta(days=1))
    await system.smtp.wait_for(2)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[1], 4)
    await system.close_week("2027-W01")
    (fact,) = await eventually(lambda: nats_tap.on(ResponseReceivedV2.subject))
    assert ResponseReceivedV2.model_validate_json(fact.data).value == 4
