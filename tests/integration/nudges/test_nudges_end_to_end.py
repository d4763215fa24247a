"""Nudges and late answers through the whole system: scheduler, JetStream, notifier, SMTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from services.demo.scenario import Person, answer, answer_links, set_up_weekly_check_in
from services.demo.system import LocalSystem
from tests.support import eventually, weekly_answers

ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
BILAL = Person("Bilal", "bilal@riverside.example", "Europe/London", shares_answers=True)
CHEN = Person("Chen", "chen@riverside.example", "Europe/London", shares_answers=True)
MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def _timers(system: LocalSystem, ritual_id: str) -> list[dict[str, object]]:
    timers: list[dict[str, object]] = await system.clients["scheduler"].get_all(
        f"/v1/rituals/{ritual_id}/nudge-timers"
    )
    return timers


async def test_one_gentle_nudge_for_the_unanswered_and_late_answers_count_as_late(
    system: LocalSystem,
) -> None:
    community = await set_up_weekly_check_in(
        system, (ANA, BILAL, CHEN), nudge_after_minutes=120, max_nudges=1
    )
    await system.advance_to(MONDAY_0900)
    prompts = await system.smtp.wait_for(3)
    # The scheduler has seen every PromptSent: the timers run from the actual send.
    await eventually(lambda: _count_timers(system, community.ritual_id, 3))

    async with aiohttp.ClientSession() as browser:
        await system.advance_to(MONDAY_0900 + timedelta(minutes=30))
        await answer(browser, next(m for m in prompts if m.envelope_to[0] == ANA.email), 4)
        await eventually(lambda: _answered(system, community.ritual_id, 1))

        for minutes in (60, 119):
            await system.advance_to(MONDAY_0900 + timedelta(minutes=minutes))
        assert len(system.smtp.messages) == 3  # not yet
        await system.advance_to(MONDAY_0900 + timedelta(minutes=120))
        nudges = (await system.smtp.wait_for(5))[3:]
        assert sorted(m.envelope_to[0] for m in nudges) == [BILAL.email, CHEN.email]
        assert all(m.subject == "A gentle reminder: this week's check-in" for m in nudges)
        bilal_prompt = next(m for m in prompts if m.envelope_to[0] == BILAL.email)
        bilal_nudge = next(m for m in nudges if m.envelope_to[0] == BILAL.email)
        # The nudge's links answer the original prompt.
        assert answer_links(bilal_nudge) == answer_links(bilal_prompt)
        await answer(browser, bilal_nudge, 2)
        assert "already have your answer" in await answer(browser, bilal_prompt, 3)

        # At most one nudge: nothing more however long Chen stays silent...
        for hours in (4, 12, 47):
            await system.advance_to(MONDAY_0900 + timedelta(hours=hours))
        # ...and an answer after the 48 h window is recorded, as late.
        await system.advance_to(MONDAY_0900 + timedelta(hours=49))
        chen_prompt = next(m for m in prompts if m.envelope_to[0] == CHEN.email)
        assert "Thank you" in await answer(browser, chen_prompt, 1)
    assert len(system.smtp.messages) == 5
    await system.close_week("2027-W01")

    async def counts() -> list[dict[str, object]] | None:
        rows = await weekly_answers(system, community.id)
        return rows if rows and rows[0]["responses"] == 3 else None

    # The late answer counts too: the week had not closed.
    assert await eventually(counts) == [{"iso_week": "2027-W01", "responses": 3, "respondents": 3}]


async def _count_timers(system: LocalSystem, ritual_id: str, expected: int) -> bool:
    return len(await _timers(system, ritual_id)) == expected


async def _answered(system: LocalSystem, ritual_id: str, expected: int) -> bool:
    timers = await _timers(system, ritual_id)
    return sum(1 for t in timers if t["answered_at"]) == expected
