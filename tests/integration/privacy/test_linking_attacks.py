"""Three attacks on the anonymity of answers, by someone holding every database but the
notifier's and every stream (``attacker.py``): the id chain, timing and order, and cardinality.

The first two must link nothing. The third is what remains: a community and week with one
answerer gives that person's answers away to anyone who can count; releases (issue #8's
disclosure control) withhold such cells, and README says so.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import aiohttp

from services.demo.scenario import Community, Person, answer, set_up_weekly_check_in
from services.demo.system import LocalSystem
from services.notifier.domain.pseudonyms import respondent_key
from tests.integration.privacy.attacker import (
    Observations,
    cardinality_set,
    id_chain_links,
    intersection_candidates,
    read_streams,
    timing_candidates,
    weeks_per_key,
)
from tests.support import eventually, read_database

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
WEEKS = ("2027-W01", "2027-W02", "2027-W03")
ZONES = ("Europe/London", "America/New_York")  # prompts at 09:00Z and 14:00Z in January
RIVERSIDE = 24  # members; the first three quarters share their answers
# Who answers which week: every pattern of three weeks occurs, most of them only a few times,
# so a key that lasted across weeks would give many people away.
PATTERNS = [(bool(n & 1), bool(n & 2), bool(n & 4)) for n in range(1, 8)]


def riverside_people() -> tuple[Person, ...]:
    return tuple(
        Person(
            f"R{n}",
            f"r{n}@riverside.example",
            ZONES[n % 2],
            shares_answers=n < RIVERSIDE * 3 // 4,
        )
        for n in range(RIVERSIDE)
    )


def answers_of(n: int, rng: random.Random) -> tuple[int | None, ...]:
    pattern = PATTERNS[n % len(PATTERNS)] if n < 21 else (True, True, True)
    return tuple(rng.randint(1, 5) if week else None for week in pattern)


async def _play(
    system: LocalSystem,
    groups: list[tuple[Community, tuple[Person, ...]]],
    plan: dict[str, tuple[int | None, ...]],
) -> int:
    """Three weekly check-ins; everyone answers as planned. Returns the facts expected."""
    everyone = [person for _, people in groups for person in people]
    shared = 0
    async with aiohttp.ClientSession() as browser:
        for week in range(len(WEEKS)):
            monday = MONDAY_0900 + timedelta(weeks=week)
            await system.advance_to(monday)
            await system.advance_to(monday + timedelta(hours=5))
            await system.smtp.wait_for(len(everyone) * (week + 1))
            for person in everyone:
                value = plan[person.email][week]
                if value is None:
                    continue
                await answer(browser, system.smtp.to(person.email)[-1], value)
                shared += person.shares_answers
    return shared


async def _facts_in_insights(system: LocalSystem, expected: int) -> bool:
    tables = await read_database(system.database_for, "insights")
    return len(tables["response_facts"]) == expected


async def test_no_answer_can_be_linked_by_ids_timing_order_or_weeks(system: LocalSystem) -> None:
    rng = random.Random(7)
    people = riverside_people()
    hamlet = (Person("Holly", "holly@hamlet.example", "Europe/London", shares_answers=True),)
    pair = (
        Person("Pat", "pat@pair.example", "Europe/London", shares_answers=True),
        Person("Quinn", "quinn@pair.example", "Europe/London", shares_answers=True),
    )
    plan = {p.email: answers_of(n, rng) for n, p in enumerate(people)}
    plan |= {p.email: (rng.randint(1, 5), rng.randint(1, 5), None) for p in (*hamlet, *pair)}
    groups = [
        (await set_up_weekly_check_in(system, people), people),
        (await set_up_weekly_check_in(system, hamlet, community_id="hamlet"), hamlet),
        (await set_up_weekly_check_in(system, pair, community_id="pair"), pair),
    ]
    expected = await _play(system, groups, plan)
    await system.advance_to(datetime(2027, 2, 10, tzinfo=UTC))  # every week has closed
    await eventually(lambda: _facts_in_insights(system, expected), timeout_s=30)

    seen = Observations(
        await read_streams(system.nats.url),
        await read_database(system.database_for, "scheduler"),
        await read_database(system.database_for, "insights"),
    )
    answers = [m for m in seen.anonymised if ".received." in m.subject]
    assert len(answers) == expected
    assert len(seen.answers) > expected  # some people keep their answers to themselves

    # 1. The id chain: nothing on the anonymised side equals, or is computable from, an id on
    # the identity side.
    assert id_chain_links(seen) == set()

    # 2. Timing and order. Every fact of a week leaves after everyone's answers (and prompts)
    # that week, so its candidates are everyone who answered (or was prompted) in its community
    # that week, or in a period summary's four weeks; never fewer...
    candidates = timing_candidates(seen)
    messages = {(m.stream, m.sequence): m for m in seen.anonymised}
    by_fact = {key: message.body for key, message in messages.items()}
    for fact_id, members in candidates.items():
        assert members == cardinality_set(seen, messages[fact_id]), by_fact[fact_id]
    riverside_sets = [m for f, m in candidates.items() if by_fact[f]["community_id"] == "riverside"]
    assert min(len(members) for members in riverside_sets) >= 10
    # ...and their order says nothing: matching the k-th key of a release to the k-th answerer
    # of the week finds about 0.8 right per riverside week, as guessing does (each of ~12 keys
    # has a 1-in-~15 chance). A random order gets more than 14 right in the three weeks with
    # probability < 1e-7 (about Poisson(2.4) matches); in answer order it would get all right.
    truth = await _keys_to_members(system)
    right = _order_attack(seen, truth, "riverside")
    print(
        f"linking attacks: {len(answers)} answers; smallest riverside timing set "
        f"{min(len(members) for members in riverside_sets)}; order attack right {right}"
    )
    assert right <= 14, right

    # 3. Weeks: no key lasts beyond one week, so the pattern of weeks someone answered in (which
    # PromptAnswered shows) matches no key, and the intersection attack links nobody.
    assert all(len(weeks) == 1 for weeks in weeks_per_key(seen).values())
    across_weeks = intersection_candidates(seen)
    assert [
        k
        for k, members in across_weeks.items()
        if len(members) == 1 and len(weeks_per_key(seen)[k]) > 1
    ] == []

    # Cardinality, what is left: in a community and week with one answerer the facts are
    # theirs; with two, they are known as a pair. Releases withhold such cells (README).
    for fact_id, message in messages.items():
        if ".received." not in message.subject:
            continue
        members = candidates[fact_id]
        community = by_fact[fact_id]["community_id"]
        if community == "hamlet":
            assert members == {truth[by_fact[fact_id]["respondent_key"]]}
        if community == "pair":
            assert len(members) == 2
            assert truth[by_fact[fact_id]["respondent_key"]] in members


async def _keys_to_members(system: LocalSystem) -> dict[str, str]:
    """What only the notifier can know: whose key is whose (the test is omniscient)."""
    notifier = await read_database(system.database_for, "notifier")
    return {
        respondent_key(row["pseudonym_seed"], week): row["member_id"]
        for row in notifier["contacts"]
        for week in WEEKS
    }


def _order_attack(seen: Observations, truth: dict[str, str], community: str) -> int:
    """Match keys to answerers by order within each week of ``community``; count right ones."""
    weeks = seen.week_of_due()
    answer_order: dict[tuple[str, str], list[str]] = defaultdict(list)
    for message in sorted(seen.answers, key=lambda m: (m.stored_at, m.sequence)):
        week = weeks.get(message.body["due_event_id"])
        answer_order[(message.body["community_id"], str(week))].append(message.body["member_id"])
    key_order: dict[tuple[str, str], list[str]] = defaultdict(list)
    for message in sorted(seen.anonymised, key=lambda m: m.sequence):
        if message.body["community_id"] != community or ".received." not in message.subject:
            continue
        slot = (message.body["community_id"], message.body["iso_week"])
        if message.body["respondent_key"] not in key_order[slot]:
            key_order[slot].append(message.body["respondent_key"])
    right = 0
    for slot, keys in key_order.items():
        # The attacker cannot tell who consented: the keys go to the answerers in order.
        for key, member in zip(keys, answer_order[slot], strict=False):
            right += truth.get(key) == member
    return right
