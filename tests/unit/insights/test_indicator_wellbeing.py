"""Indicator 8, wellbeing (WHO-5): its entry in the table, its exact counts from the stored facts
(the SQL a release starts from, before any noise), and what the methodology page says of it.

The hand-made answer sets sit on both sides of the cut-off (a raw score of 12 counts, 13 does
not), include people who skipped a statement (not completers: in neither count), another
community, another period, other items of the same people, and an erased completer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from services.insights.adapters.tables import response_facts
from services.insights.adapters.true_counts import TrueCount, true_counts
from services.insights.api.methodology import methodology_html
from services.insights.domain.indicators import (
    WHO5_ITEMS,
    Cadence,
    Kind,
    ScoreShare,
    by_code,
    for_cadence,
)
from services.insights.handlers.erasures import forget_respondents
from services.insights.handlers.release import ReleasePolicy
from shared.contracts import RespondentsErasedV2, deterministic_event_id
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "insights" / "migrations"
WHO5_WEEK = "2027-W03"  # ISO week 3 % 4 == 3: the week the e-mail form asks WHO-5
PERIOD = "2027-P01"  # weeks 1-4


def _key(name: str) -> str:
    return f"rk_{name.ljust(16, '0')}"


def _who5(
    name: str, community: str, scores: tuple[int, ...], week: str = WHO5_WEEK
) -> list[dict[str, object]]:
    """One person's WHO-5 answers (a shorter tuple: they skipped the last statements)."""
    return [
        {
            "respondent_key": _key(name),
            "community_id": community,
            "iso_week": week,
            "item": item,
            "value": value,
        }
        for item, value in zip(WHO5_ITEMS, scores, strict=False)
    ]


def _answer(name: str, community: str, item: str, value: int) -> dict[str, object]:
    return {
        "respondent_key": _key(name),
        "community_id": community,
        "iso_week": WHO5_WEEK,
        "item": item,
        "value": value,
    }


FACTS = [
    # Riverside, period 1: four completers, two of them at or below the cut-off.
    *_who5("ana", "riverside", (3, 3, 2, 2, 2)),  # 12 = 48 on 0-100: poor wellbeing
    *_who5("ben", "riverside", (3, 3, 3, 2, 2)),  # 13 = 52: not
    *_who5("cai", "riverside", (0, 0, 0, 0, 0)),  # 0: poor
    *_who5("dee", "riverside", (5, 5, 5, 5, 5)),  # 25: not
    # Partial completers: four statements, or one. Low scores, yet in neither count.
    *_who5("eve", "riverside", (0, 0, 0, 0)),
    *_who5("fay", "riverside", (1,)),
    # Other items of the same week and people do not enter the WHO-5 score.
    _answer("ana", "riverside", "ons_loneliness", 5),
    _answer("ben", "riverside", "regular_contact", 0),
    _answer("eve", "riverside", "statcan_belonging", 1),
    # Another community: counted apart.
    *_who5("gus", "hillside", (1, 1, 1, 1, 1)),
    # Another period (week 7 is period 2): not in period 1.
    *_who5("hal", "riverside", (0, 0, 0, 0, 0), week="2027-W07"),
]


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url, schema = database_for("insights")
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        await session.execute(insert(response_facts), FACTS)
    yield factory
    await engine.dispose()


def _measure() -> ScoreShare:
    indicator = by_code("poor_wellbeing")
    assert indicator is not None
    measure = indicator.measures[Cadence.period]
    assert isinstance(measure, ScoreShare)
    return measure


async def _counts(
    sessions: async_sessionmaker[AsyncSession], window: str = PERIOD
) -> dict[str, TrueCount]:
    async with sessions() as session:
        return await true_counts(session, _measure(), Cadence.period, window)


def test_indicator_8_is_one_period_entry_scoring_all_five_statements_up_to_12() -> None:
    indicator = by_code("poor_wellbeing")
    assert indicator is not None
    assert (indicator.number, indicator.title, indicator.kind) == (
        8,
        "Wellbeing (WHO-5)",
        Kind.proportion,
    )
    assert indicator.measures == {
        Cadence.period: ScoreShare(
            ("who5_cheerful", "who5_calm", "who5_active", "who5_rested", "who5_interest"),
            at_most=12,
        )
    }
    assert indicator in for_cadence(Cadence.period)
    assert indicator not in for_cadence(Cadence.week)


async def test_completers_at_or_below_12_among_completers_per_community(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await _counts(sessions) == {
        "riverside": TrueCount(numerator=2, denominator=4),  # ana (12), cai (0) of a, b, c, d
        "hillside": TrueCount(numerator=1, denominator=1),
    }
    assert await _counts(sessions, "2027-P02") == {"riverside": TrueCount(1, 1)}  # hal
    assert await _counts(sessions, "2027-P03") == {}


async def test_an_erased_completer_no_longer_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erasure = RespondentsErasedV2(
        event_id=deterministic_event_id("test.erasure", "ana"),
        occurred_at=datetime(2027, 2, 1, tzinfo=UTC),
        respondent_keys=[_key("ana")],
    )
    await forget_respondents(sessions, erasure)
    counts = await _counts(sessions)
    assert counts["riverside"] == TrueCount(numerator=1, denominator=3)


def test_the_methodology_page_releases_indicator_8_and_states_its_bias() -> None:
    page = methodology_html(ReleasePolicy())
    assert "poor_wellbeing" in page
    assert "WHO-5" in page
    assert "not released" not in page
    assert "e-mail answer form only" in page
    assert "12 or less" in page
