"""Insights' series: releases made, communities a release left out, and each community's
privacy budget left, besides the shared ones (``shared.metrics``).

The budget is zCDP ρ per community over a rolling horizon (``INSIGHTS_BUDGET_LIMIT_RHO`` over
``INSIGHTS_BUDGET_HORIZON_DAYS``, ``handlers.release``); what is left is sampled at scrape from
the ledger. Labelled by community id: communities and their ids are public facts (they are
what releases are published for), never a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import budget_ledger, communities, releases
from services.insights.handlers.release import ReleaseOutcome, ReleasePolicy
from shared.clock import Clock
from shared.metrics import ServiceMetrics


class InsightsMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("insights")
        self.releases = Counter(
            "rituals_insights_releases",
            "Releases computed and stored (each spends privacy budget once), by cadence.",
            ["cadence"],
            registry=self.registry,
        )
        self.refused = Counter(
            "rituals_insights_release_refusals",
            "Communities a release left out because it would have overdrawn their budget.",
            ["cadence"],
            registry=self.registry,
        )
        self.budget_remaining = Gauge(
            "rituals_insights_budget_remaining",
            "Privacy budget (zCDP ρ) a community has left within the rolling horizon: the "
            "limit minus what its releases spent in the horizon, sampled at scrape.",
            ["community"],
            registry=self.registry,
        )
        self.last_release = Gauge(
            "rituals_insights_last_release_timestamp_seconds",
            "When the latest release was computed (Unix time, the service's clock), from the "
            "stored releases at scrape: it survives restarts, so an overdue release shows.",
            registry=self.registry,
        )
        self.budget_limit = Gauge(
            "rituals_insights_budget_limit",
            "The privacy budget (zCDP ρ) each community has per horizon.",
            registry=self.registry,
        )
        for cadence in ("week", "period"):
            self.releases.labels(cadence=cadence)
            self.refused.labels(cadence=cadence)

    def released(self, outcomes: Iterable[ReleaseOutcome]) -> None:
        for outcome in outcomes:
            if not outcome.stored:
                continue  # asked again: served from storage, nothing spent
            cadence = outcome.release_id.split(":", 1)[0]
            self.releases.labels(cadence=cadence).inc()
            self.refused.labels(cadence=cadence).inc(len(outcome.refused))

    def watch_releases(
        self, sessions: async_sessionmaker[AsyncSession], policy: ReleasePolicy, clock: Clock
    ) -> None:
        self.budget_limit.set(policy.budget_limit)

        async def sample() -> None:
            since = clock.now() - policy.budget_horizon
            spent = (
                select(budget_ledger.c.community_id, func.sum(budget_ledger.c.rho).label("rho"))
                .where(budget_ledger.c.spent_at > since)
                .group_by(budget_ledger.c.community_id)
                .subquery()
            )
            query = select(communities.c.community_id, spent.c.rho).join(
                spent, spent.c.community_id == communities.c.community_id, isouter=True
            )
            async with sessions() as session:
                rows = (await session.execute(query)).all()
            for community, rho in rows:
                remaining = policy.budget_limit - float(rho or 0.0)
                self.budget_remaining.labels(community=community).set(remaining)

        self.add_sampler("budget_remaining", sample)

        async def latest_release() -> None:
            async with sessions() as session:
                latest = (
                    await session.execute(select(func.max(releases.c.computed_at)))
                ).scalar_one_or_none()
            if latest is not None:
                aware = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
                self.last_release.set(aware.timestamp())

        self.add_sampler("last_release", latest_release)
