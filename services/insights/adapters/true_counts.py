"""The exact counts behind a release, per community, computed in SQL from the stored facts.

Exact figures exist only here and in tests: they go through disclosure control
(``domain.disclosure``) before anything is stored for analysts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.insights.adapters.tables import (
    period_facts,
    prompted_facts,
    response_facts,
    signposting_facts,
)
from services.insights.domain.indicators import (
    Cadence,
    ItemShare,
    Measure,
    Participation,
    PeriodAnchorShare,
    ScoreShare,
    Signposted,
)
from shared.weeks import weeks_of


@dataclass(frozen=True)
class TrueCount:
    numerator: int
    denominator: int | None  # None for counts


def _weeks(cadence: Cadence, window: str) -> list[str]:
    return [window] if cadence is Cadence.week else weeks_of(window)


def _query(measure: Measure, cadence: Cadence, window: str) -> Select[Any]:
    """(community_id, numerator, denominator) per community."""
    weeks = _weeks(cadence, window)
    if isinstance(measure, ItemShare):
        facts = response_facts.c
        return (
            select(
                facts.community_id,
                func.count().filter(facts.value.in_(sorted(measure.codes))),
                func.count(),
            )
            .where((facts.item == measure.item) & facts.iso_week.in_(weeks))
            .group_by(facts.community_id)
        )
    if isinstance(measure, ScoreShare):
        facts = response_facts.c
        scores = (
            select(facts.community_id, func.sum(facts.value).label("score"))
            .where(facts.item.in_(measure.items) & facts.iso_week.in_(weeks))
            .group_by(facts.respondent_key, facts.community_id, facts.iso_week)
            .having(func.count(distinct(facts.item)) == len(measure.items))
            .subquery()
        )
        within = []
        if measure.at_least is not None:
            within.append(scores.c.score >= measure.at_least)
        if measure.at_most is not None:
            within.append(scores.c.score <= measure.at_most)
        return select(
            scores.c.community_id, func.count().filter(and_(*within)), func.count()
        ).group_by(scores.c.community_id)
    if isinstance(measure, PeriodAnchorShare):
        summary = period_facts.c
        return (
            select(
                summary.community_id,
                func.count().filter(summary.anchor_value.in_(sorted(measure.codes))),
                func.count(),
            )
            .where((summary.period == window) & summary.anchor_value.is_not(None))
            .group_by(summary.community_id)
        )
    if isinstance(measure, Participation) and cadence is Cadence.period:
        summary = period_facts.c
        return (
            select(
                summary.community_id,
                func.count().filter(summary.answered.is_(True)),
                func.count(),
            )
            .where(summary.period == window)
            .group_by(summary.community_id)
        )
    if isinstance(measure, Participation):
        prompted = prompted_facts.c
        answered = (
            select(response_facts.c.respondent_key, response_facts.c.community_id)
            .where(response_facts.c.iso_week == window)
            .distinct()
            .subquery()
        )
        return (
            select(prompted.community_id, func.count(answered.c.respondent_key), func.count())
            .select_from(
                prompted_facts.outerjoin(
                    answered,
                    (answered.c.respondent_key == prompted.respondent_key)
                    & (answered.c.community_id == prompted.community_id),
                )
            )
            .where(prompted.iso_week == window)
            .group_by(prompted.community_id)
        )
    if isinstance(measure, Signposted) and cadence is Cadence.period:
        summary = period_facts.c
        return (
            select(summary.community_id, func.count(), func.count())
            .where((summary.period == window) & summary.signposted.is_(True))
            .group_by(summary.community_id)
        )
    signposted = signposting_facts.c
    return (
        select(signposted.community_id, func.count(), func.count())
        .where(signposted.iso_week == window)
        .group_by(signposted.community_id)
    )


async def true_counts(
    session: AsyncSession, measure: Measure, cadence: Cadence, window: str
) -> dict[str, TrueCount]:
    """community id -> its exact numerator and denominator for ``measure`` over ``window``."""
    counts_only = isinstance(measure, Signposted)
    rows = await session.execute(_query(measure, cadence, window))
    return {
        str(row[0]): TrueCount(int(row[1]), None if counts_only else int(row[2])) for row in rows
    }
