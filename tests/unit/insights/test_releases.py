"""Releases: computed once and stored (asking again spends nothing), accounted per community in
the budget ledger (an exhausted budget refuses), suppressed on noisy counts, summed into regions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import budget_ledger, release_values, releases
from services.insights.domain.disclosure import Thresholds
from services.insights.domain.indicators import Cadence, for_cadence
from services.insights.handlers.areas import record_community
from services.insights.handlers.release import ReleasePolicy, compute_release
from shared.clock import ManualClock
from shared.contracts import CommunityChangedV1, keyed_event_id
from tests.unit.insights.facts import answer, prompted, summary

NOW = datetime(2027, 2, 10, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


async def community(sessions: Sessions, community_id: str, region: str) -> None:
    await record_community(
        sessions,
        CommunityChangedV1(
            event_id=keyed_event_id(b"k" * 32, community_id),
            occurred_at=NOW - timedelta(days=60),
            community_id=community_id,
            name=community_id.title(),
            region_code=region,
        ),
    )


async def populated(sessions: Sessions, people: int = 40) -> None:
    """Two communities in one region, one in another; a week and a period of facts."""
    for name, region in (("north", "R1"), ("south", "R1"), ("west", "R2")):
        await community(sessions, name, region)
        for n in range(people):
            person = f"{name}{n}"
            await prompted(sessions, person, "2027-W01", community=name)
            await answer(sessions, person, "2027-W01", "ons_loneliness", 1 + n % 5, community=name)
            await summary(sessions, person, "2027-P01", 1 + n % 5, True, community=name)


async def stored(sessions: Sessions, release: str) -> list[dict[str, object]]:
    async with sessions() as session:
        rows = await session.execute(
            select(release_values).where(release_values.c.release_id == release)
        )
        return [dict(row._mapping) for row in rows]


async def ledger(sessions: Sessions) -> list[tuple[str, str, float]]:
    async with sessions() as session:
        rows = await session.execute(select(budget_ledger).order_by(budget_ledger.c.community_id))
        return [(row.community_id, row.release_id, row.rho) for row in rows]


async def test_a_release_is_computed_once_asking_again_spends_nothing(sessions: Sessions) -> None:
    await populated(sessions)
    clock = ManualClock(NOW)
    first = await compute_release(sessions, ReleasePolicy(), clock, Cadence.period, "2027-P01")
    assert first.stored
    assert first.communities == ("north", "south", "west")
    values = await stored(sessions, first.release_id)
    spent = await ledger(sessions)
    assert spent == [(c, "period:2027-P01", 0.05) for c in ("north", "south", "west")]
    clock.advance(timedelta(days=3))
    again = await compute_release(sessions, ReleasePolicy(), clock, Cadence.period, "2027-P01")
    assert not again.stored
    assert await stored(sessions, first.release_id) == values  # the same numbers
    assert await ledger(sessions) == spent  # nothing more spent
    indicators = {indicator.code for indicator in for_cadence(Cadence.period)}
    # One row per community and region and indicator.
    assert len(values) == (3 + 2) * len(indicators)


async def test_a_release_past_a_communitys_budget_leaves_it_out_and_says_why(
    sessions: Sessions,
) -> None:
    await populated(sessions)
    policy = ReleasePolicy(rho_week=0.02, rho_period=0.05, budget_limit=0.06)
    clock = ManualClock(NOW)
    week = await compute_release(sessions, policy, clock, Cadence.week, "2027-W01")
    assert week.refused == {}
    period = await compute_release(sessions, policy, clock, Cadence.period, "2027-P01")
    assert period.communities == ()
    assert set(period.refused) == {"north", "south", "west"}
    assert "privacy budget exhausted" in period.refused["north"]
    assert "0.020" in period.refused["north"]  # what was spent, what was asked
    assert await stored(sessions, period.release_id) == []
    async with sessions() as session:
        row = (
            await session.execute(
                select(releases).where(releases.c.release_id == "period:2027-P01")
            )
        ).one()
    assert json.loads(row.refused) == period.refused
    # Spends older than the horizon no longer count: a year on, the same budget allows it.
    later = ManualClock(NOW + timedelta(days=366))
    policy_later = ReleasePolicy(rho_period=0.05, budget_limit=0.06)
    next_year = await compute_release(sessions, policy_later, later, Cadence.period, "2028-P01")
    assert next_year.refused == {}


async def test_suppression_follows_the_stored_noisy_counts_and_regions_sum_them(
    sessions: Sessions,
) -> None:
    await populated(sessions, people=35)
    rules = Thresholds()
    outcome = await compute_release(
        sessions, ReleasePolicy(), ManualClock(NOW), Cadence.period, "2027-P01"
    )
    rows = await stored(sessions, outcome.release_id)
    for row in rows:
        numerator, denominator = row["noisy_numerator"], row["noisy_denominator"]
        assert isinstance(numerator, float)
        withheld = numerator < rules.min_numerator or (
            denominator is not None and float(str(denominator)) < rules.min_denominator
        )
        assert (row["flag"] == "c") == withheld, row
        assert (row["value"] is None) == withheld
    by_area = {(r["area_type"], r["area_id"], r["indicator"]): r for r in rows}
    for indicator in {r["indicator"] for r in rows}:
        r1 = by_area[("region", "R1", indicator)]
        parts = [by_area[("community", c, indicator)] for c in ("north", "south")]
        assert r1["noisy_numerator"] == sum(float(str(p["noisy_numerator"])) for p in parts)
        west = by_area[("community", "west", indicator)]
        assert by_area[("region", "R2", indicator)]["noisy_numerator"] == west["noisy_numerator"]


async def test_a_community_with_no_facts_in_the_window_is_not_released(sessions: Sessions) -> None:
    await community(sessions, "quiet", "R9")
    await answer(sessions, "x", "2027-W01", "ons_loneliness", 2, community="unannounced")
    outcome = await compute_release(
        sessions, ReleasePolicy(), ManualClock(NOW), Cadence.week, "2027-W01"
    )
    assert outcome.communities == ("unannounced",)
    rows = await stored(sessions, outcome.release_id)
    assert {(r["area_type"], r["area_id"]) for r in rows} == {
        ("community", "unannounced"),
        ("region", "unknown"),  # its CommunityChanged has not arrived: region unknown
    }
