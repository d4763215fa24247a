"""Each indicator's exact counts on hand-made sets of facts: what is counted, once per person,
and what an erasure takes away. (Exact counts exist only here and in the database: releases add
noise to them.)"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.true_counts import TrueCount, true_counts
from services.insights.domain.indicators import INDICATORS, Cadence, by_code
from services.insights.handlers.erasures import forget_respondents
from shared.contracts import RespondentsErasedV2, keyed_event_id
from tests.unit.insights.facts import KEY, NOW, answer, prompted, rk, signposted, summary

Sessions = async_sessionmaker[AsyncSession]


async def counts(
    sessions: Sessions, code: str, cadence: Cadence, window: str
) -> dict[str, TrueCount]:
    indicator = by_code(code)
    assert indicator is not None
    async with sessions() as session:
        return await true_counts(session, indicator.measures[cadence], cadence, window)


async def test_chronic_loneliness_weekly_counts_each_answer_to_the_anchor(
    sessions: Sessions,
) -> None:
    for person, value in (("a", 1), ("b", 1), ("c", 3), ("d", 5)):
        await answer(sessions, person, "2027-W01", "ons_loneliness", value)
    await answer(sessions, "e", "2027-W02", "ons_loneliness", 1)  # another week
    await answer(sessions, "f", "2027-W01", "ons_loneliness", 1, community="c2")
    assert await counts(sessions, "chronic_loneliness", Cadence.week, "2027-W01") == {
        "c1": TrueCount(2, 4),
        "c2": TrueCount(1, 1),
    }


async def test_a_repeated_fact_counts_once_the_first_stored_stands(sessions: Sessions) -> None:
    """The notifier sends one fact per person, week and item (the latest answer); a replay of
    it, or a second copy, stores nothing more."""
    await answer(sessions, "a", "2027-W01", "ons_loneliness", 1)
    await answer(sessions, "a", "2027-W01", "ons_loneliness", 1)
    assert await counts(sessions, "chronic_loneliness", Cadence.week, "2027-W01") == {
        "c1": TrueCount(1, 1)
    }


async def test_chronic_loneliness_for_a_period_takes_each_persons_latest_anchor(
    sessions: Sessions,
) -> None:
    # The period summary carries the latest anchor answer of the period (the notifier's choice,
    # tested there); a person who never answered the anchor is not in the denominator.
    await summary(sessions, "a", "2027-P01", anchor=1, answered=True)
    await summary(sessions, "b", "2027-P01", anchor=4, answered=True)
    await summary(sessions, "c", "2027-P01", anchor=None, answered=False)
    await summary(sessions, "d", "2027-P02", anchor=1, answered=True)
    assert await counts(sessions, "chronic_loneliness", Cadence.period, "2027-P01") == {
        "c1": TrueCount(1, 2)
    }


@pytest.mark.parametrize(
    ("code", "items", "answers", "expected"),
    [
        # UCLA-3: three items 1-3, lonely at a sum of 6 or more; completers only.
        (
            "ucla_lonely",
            ("ucla_companionship", "ucla_left_out", "ucla_isolated"),
            {"a": (2, 2, 2), "b": (3, 3, 3), "c": (1, 2, 2), "d": (3, 3, None)},
            TrueCount(2, 3),
        ),
        # OSSS-3: sum 3-14, poor at 3-8; completers only.
        (
            "practical_support_low",
            ("osss_close_people", "osss_concern", "osss_neighbours"),
            {"a": (1, 2, 2), "b": (4, 5, 5), "c": (2, 3, 3), "d": (2, None, 3)},
            TrueCount(2, 3),
        ),
    ],
)
async def test_scores_count_completers_within_the_band(
    sessions: Sessions,
    code: str,
    items: tuple[str, ...],
    answers: dict[str, tuple[int | None, ...]],
    expected: TrueCount,
) -> None:
    # In the period's module week (2027-W04 asks UCLA-3; the band is a rule of the score).
    for person, values in answers.items():
        for item, value in zip(items, values, strict=True):
            if value is not None:
                await answer(sessions, person, "2027-W04", item, value)
    assert await counts(sessions, code, Cadence.period, "2027-P01") == {"c1": expected}


@pytest.mark.parametrize(
    ("code", "item", "values", "expected"),
    [
        ("emotional_support", "brfss_emotional_support", (1, 2, 3, 4, 5), TrueCount(2, 5)),
        ("informational_support", "mos_informational", (1, 2, 3, 4, 5), TrueCount(2, 5)),
        ("belonging", "statcan_belonging", (1, 2, 3, 4), TrueCount(2, 4)),
        ("regular_contact", "regular_contact", (0, 1, 2, 3, 4, 5), TrueCount(3, 6)),
    ],
)
async def test_single_item_indicators_count_the_codes_they_name(
    sessions: Sessions, code: str, item: str, values: tuple[int, ...], expected: TrueCount
) -> None:
    for person, value in enumerate(values):
        await answer(sessions, f"p{person}", "2027-W02", item, value)
    await answer(sessions, "late", "2027-W05", item, values[0])  # the next period
    assert await counts(sessions, code, Cadence.period, "2027-P01") == {"c1": expected}


async def test_participation_weekly_is_answerers_among_the_consenting_prompted(
    sessions: Sessions,
) -> None:
    for person in ("a", "b", "c", "d"):
        await prompted(sessions, person, "2027-W01")
    await answer(sessions, "a", "2027-W01", "ons_loneliness", 3)
    await answer(sessions, "a", "2027-W01", "brfss_emotional_support", 2)  # one person, twice
    await answer(sessions, "b", "2027-W01", "ritual_kept", 1)  # any answer counts
    await prompted(sessions, "a", "2027-W02")
    assert await counts(sessions, "participation", Cadence.week, "2027-W01") == {
        "c1": TrueCount(2, 4)
    }


async def test_participation_and_signposting_for_a_period_count_people_once(
    sessions: Sessions,
) -> None:
    await summary(sessions, "a", "2027-P01", anchor=1, answered=True, support=True)
    await summary(sessions, "b", "2027-P01", anchor=None, answered=False)
    await summary(sessions, "c", "2027-P01", anchor=2, answered=True)
    assert await counts(sessions, "participation", Cadence.period, "2027-P01") == {
        "c1": TrueCount(2, 3)
    }
    assert await counts(sessions, "signposting", Cadence.period, "2027-P01") == {
        "c1": TrueCount(1, None)
    }


async def test_signposting_weekly_is_a_count_of_people(sessions: Sessions) -> None:
    await signposted(sessions, "a", "2027-W01")
    await signposted(sessions, "a", "2027-W01")  # the same person, again: once
    await signposted(sessions, "b", "2027-W01")
    assert await counts(sessions, "signposting", Cadence.week, "2027-W01") == {
        "c1": TrueCount(2, None)
    }


async def test_an_erased_respondent_leaves_every_count_and_cannot_come_back(
    sessions: Sessions,
) -> None:
    await prompted(sessions, "a", "2027-W01")
    await prompted(sessions, "b", "2027-W01")
    await answer(sessions, "a", "2027-W01", "ons_loneliness", 1)
    await answer(sessions, "b", "2027-W01", "ons_loneliness", 2)
    await signposted(sessions, "a", "2027-W01")
    await summary(sessions, "a", "2027-P01", anchor=1, answered=True, support=True)
    await forget_respondents(
        sessions,
        RespondentsErasedV2(
            event_id=keyed_event_id(KEY, "erased", "a"),
            occurred_at=NOW,
            respondent_keys=[rk("a", "2027-W01"), rk("a", "2027-P01")],
        ),
    )
    await answer(sessions, "a", "2027-W01", "ons_loneliness", 1)  # a replay after the erasure
    assert await counts(sessions, "chronic_loneliness", Cadence.week, "2027-W01") == {
        "c1": TrueCount(0, 1)
    }
    assert await counts(sessions, "participation", Cadence.week, "2027-W01") == {
        "c1": TrueCount(1, 1)
    }
    assert await counts(sessions, "signposting", Cadence.week, "2027-W01") == {}
    assert await counts(sessions, "chronic_loneliness", Cadence.period, "2027-P01") == {}


def test_the_table_is_consistent() -> None:
    numbers = [indicator.number for indicator in INDICATORS]
    assert numbers == sorted(set(numbers))
    codes = [indicator.code for indicator in INDICATORS]
    assert len(codes) == len(set(codes))
    for indicator in INDICATORS:
        assert indicator.measures, indicator.code
        assert (indicator.denominator is None) == (indicator.counts == 1), indicator.code
