"""Compute, store and account for one release: a week's or a period's indicators, for every
community and region, through disclosure control.

A release is computed once. Its values, and each community's spend in the budget ledger, are
stored in the same transaction as the release row; asking again returns what is stored and
spends nothing. A community whose budget the release would overdraw (its ledger over the
horizon plus this release's ρ above the limit) is left out of the release, with the reason.
Region figures are the sums of the released communities' noisy counts: no extra budget, and no
differencing route to a community's exact count.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import (
    budget_ledger,
    communities,
    period_facts,
    prompted_facts,
    release_values,
    releases,
    response_facts,
    signposting_facts,
)
from services.insights.adapters.true_counts import TrueCount, true_counts
from services.insights.domain.disclosure import (
    Cell,
    NoisyCounter,
    Thresholds,
    count_cell,
    proportion_cell,
)
from services.insights.domain.indicators import Cadence, Indicator, Kind, for_cadence
from services.insights.handlers.erasures import purge_tombstoned_facts
from shared.clock import Clock
from shared.db import insert_ignoring_duplicates
from shared.weeks import weeks_of

log = logging.getLogger(__name__)

METHOD_VERSION = "2026.12"
UNKNOWN_REGION = "unknown"


@dataclass(frozen=True)
class ReleasePolicy:
    rho_week: float = 0.02
    rho_period: float = 0.05
    budget_limit: float = 2.0
    budget_horizon: timedelta = timedelta(days=365)
    thresholds: Thresholds = field(default_factory=Thresholds)

    def rho(self, cadence: Cadence) -> float:
        return self.rho_week if cadence is Cadence.week else self.rho_period


@dataclass(frozen=True)
class ReleaseOutcome:
    release_id: str
    stored: bool  # False: it existed already (nothing spent)
    communities: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)  # community -> why


def release_id(cadence: Cadence, window: str) -> str:
    return f"{cadence.value}:{window}"


async def _communities_with_facts(session: AsyncSession, cadence: Cadence, window: str) -> set[str]:
    weeks = [window] if cadence is Cadence.week else weeks_of(window)
    found: set[str] = set()
    for table, column in (
        (response_facts, response_facts.c.iso_week),
        (prompted_facts, prompted_facts.c.iso_week),
        (signposting_facts, signposting_facts.c.iso_week),
    ):
        found |= set(
            (
                await session.execute(
                    select(table.c.community_id).where(column.in_(weeks)).distinct()
                )
            ).scalars()
        )
    if cadence is Cadence.period:
        found |= set(
            (
                await session.execute(
                    select(period_facts.c.community_id)
                    .where(period_facts.c.period == window)
                    .distinct()
                )
            ).scalars()
        )
    return found


async def _areas(session: AsyncSession, cadence: Cadence, window: str) -> dict[str, str]:
    """The communities the release is for (those with facts in the window) -> region code.

    A community nobody consenting was prompted in has nothing to release; one the scheduler
    never announced (a replay ahead of its CommunityChanged) goes to region "unknown".
    """
    regions = {
        row.community_id: row.region_code
        for row in await session.execute(
            select(communities.c.community_id, communities.c.region_code)
        )
    }
    present = await _communities_with_facts(session, cadence, window)
    return {community: regions.get(community, UNKNOWN_REGION) for community in present}


async def _budget_refusals(
    session: AsyncSession,
    policy: ReleasePolicy,
    community_ids: Sequence[str],
    rho: float,
    now: datetime,
) -> dict[str, str]:
    rows = await session.execute(
        select(budget_ledger.c.community_id, func.sum(budget_ledger.c.rho))
        .where(budget_ledger.c.spent_at > now - policy.budget_horizon)
        .group_by(budget_ledger.c.community_id)
    )
    spent = {str(row[0]): float(row[1] or 0.0) for row in rows}
    refusals = {}
    for community in community_ids:
        already = spent.get(community, 0.0)
        if already + rho > policy.budget_limit + 1e-12:
            refusals[community] = (
                f"privacy budget exhausted: ρ {already:.3f} spent in the last "
                f"{policy.budget_horizon.days} days, this release needs {rho:.3f}, "
                f"the limit is {policy.budget_limit:.3f}"
            )
    return refusals


def _cell(
    indicator: Indicator,
    numerator: float,
    denominator: float | None,
    sigma: float,
    rules: Thresholds,
) -> Cell:
    if indicator.kind is Kind.number or denominator is None:
        return count_cell(numerator, sigma, rules)
    return proportion_cell(numerator, denominator, sigma, rules)


async def compute_release(
    sessions: async_sessionmaker[AsyncSession],
    policy: ReleasePolicy,
    clock: Clock,
    cadence: Cadence,
    window: str,
) -> ReleaseOutcome:
    """Release ``window`` (``2027-W01`` for a week, ``2027-P01`` for a period) once."""
    identifier = release_id(cadence, window)
    await purge_tombstoned_facts(sessions)
    now = clock.now()
    indicators = for_cadence(cadence)
    draws = sum(indicator.counts for indicator in indicators)
    rho = policy.rho(cadence)
    counter = NoisyCounter(rho / draws)
    sigma = counter.scale
    async with sessions() as session, session.begin():
        created = await insert_ignoring_duplicates(
            session,
            releases,
            [
                {
                    "release_id": identifier,
                    "cadence": cadence.value,
                    "period": window,
                    "computed_at": now,
                    "rho": rho,
                    "method_version": METHOD_VERSION,
                }
            ],
        )
        if not created:
            return ReleaseOutcome(identifier, stored=False)
        areas = await _areas(session, cadence, window)
        refused = await _budget_refusals(session, policy, sorted(areas), rho, now)
        released = sorted(c for c in areas if c not in refused)
        rows: list[dict[str, object]] = []
        regions: dict[str, list[str]] = defaultdict(list)
        for community in released:
            regions[areas[community]].append(community)
        for indicator in indicators:
            exact = await true_counts(session, indicator.measures[cadence], cadence, window)
            noisy: dict[str, tuple[int, int | None]] = {}
            for community in released:
                truth = exact.get(community, TrueCount(0, None if indicator.counts == 1 else 0))
                denominator = None if truth.denominator is None else counter(truth.denominator)
                noisy[community] = (counter(truth.numerator), denominator)
                rows.append(
                    _row(
                        identifier,
                        "community",
                        community,
                        indicator,
                        *noisy[community],
                        sigma,
                        policy.thresholds,
                    )
                )
            for region, members in sorted(regions.items()):
                numerator = sum(noisy[c][0] for c in members)
                parts = [noisy[c][1] for c in members]
                denominator = None if None in parts else sum(p or 0 for p in parts)
                rows.append(
                    _row(
                        identifier,
                        "region",
                        region,
                        indicator,
                        numerator,
                        denominator,
                        sigma * math.sqrt(len(members)),
                        policy.thresholds,
                    )
                )
        if refused:
            await session.execute(
                update(releases)
                .where(releases.c.release_id == identifier)
                .values(refused=json.dumps(refused, sort_keys=True))
            )
        if rows:
            await session.execute(release_values.insert(), rows)
        if released:
            await session.execute(
                budget_ledger.insert(),
                [
                    {"community_id": c, "release_id": identifier, "rho": rho, "spent_at": now}
                    for c in released
                ],
            )
    log.info(
        "release %s: communities=%s refused=%s values=%s",
        identifier,
        len(released),
        len(refused),
        len(rows),
    )
    return ReleaseOutcome(identifier, True, tuple(released), refused)


def _row(
    identifier: str,
    area_type: str,
    area_id: str,
    indicator: Indicator,
    numerator: int,
    denominator: int | None,
    sigma: float,
    rules: Thresholds,
) -> dict[str, object]:
    cell = _cell(indicator, numerator, denominator, sigma, rules)
    return {
        "release_id": identifier,
        "area_type": area_type,
        "area_id": area_id,
        "indicator": indicator.code,
        "noisy_numerator": numerator,
        "noisy_denominator": denominator,
        "value": cell.value,
        "lower": cell.lower,
        "upper": cell.upper,
        "flag": cell.flag,
    }
