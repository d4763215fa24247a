"""Stored releases for the dashboard tests: rows written straight into insights' tables, so the
page is deterministic (a withheld point, a low-reliability one and a release that left the
area out are guaranteed, which noise would only make likely). The dashboard reads releases
only, never facts: these rows are all it can show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from services.insights.adapters.tables import communities, release_values, releases
from services.insights.handlers.release import METHOD_VERSION
from services.insights.main import MIGRATIONS
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

RIVERSIDE, HILLSIDE, REGION = "riverside", "hillside", "E08000035"
COMPUTED_AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class StoredValue:
    """One ``release_values`` row, as the release job would have stored it."""

    period: str
    area_type: str
    area_id: str
    indicator: str
    value: float | None
    lower: float | None
    upper: float | None
    noisy_numerator: float
    noisy_denominator: float | None
    flag: str | None

    @property
    def noisy_n(self) -> int | None:
        """What the API and the page show as noisy n: nothing for a withheld value."""
        if self.flag == "c":
            return None
        return round(self.noisy_denominator or self.noisy_numerator)

    @property
    def cadence(self) -> str:
        return "week" if "-W" in self.period else "period"

    def row(self) -> dict[str, object]:
        return {
            "release_id": f"{self.cadence}:{self.period}",
            "area_type": self.area_type,
            "area_id": self.area_id,
            "indicator": self.indicator,
            "noisy_numerator": self.noisy_numerator,
            "noisy_denominator": self.noisy_denominator,
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "flag": self.flag,
        }


def loneliness(period: str, area: str, value: float | None, flag: str | None) -> StoredValue:
    """Chronic loneliness in ``area``: a proportion of 120 noisy respondents (withheld: 9)."""
    if flag == "c":
        return StoredValue(
            period, "community", area, "chronic_loneliness", None, None, None, 3, 9, "c"
        )
    assert value is not None
    half = 12.0 if flag == "u" else 6.0
    return StoredValue(
        period,
        "community",
        area,
        "chronic_loneliness",
        value,
        round(value - half, 1),
        round(value + half, 1),
        round(value * 1.2),
        120,
        flag,
    )


# Riverside, weekly chronic loneliness: published, low reliability (u), withheld (c), left out
# of W04's release (x), then published again.
RIVERSIDE_WEEKS = (
    loneliness("2027-W01", RIVERSIDE, 24.2, None),
    loneliness("2027-W02", RIVERSIDE, 31.7, "u"),
    loneliness("2027-W03", RIVERSIDE, None, "c"),
    loneliness("2027-W05", RIVERSIDE, 22.5, None),
    loneliness("2027-W06", RIVERSIDE, 27.0, None),
)
OTHER_VALUES = (
    loneliness("2027-W04", HILLSIDE, 40.0, None),
    StoredValue(
        "2027-W01", "region", REGION, "chronic_loneliness", 25.0, 20.0, 30.0, 60, 240, None
    ),
    StoredValue("2027-P01", "community", RIVERSIDE, "belonging", 61.3, 52.0, 70.1, 92, 150, None),
    StoredValue("2027-P01", "community", RIVERSIDE, "signposting", 14.0, 0.0, 33.1, 14, None, "u"),
)
WEEKS = ("2027-W01", "2027-W02", "2027-W03", "2027-W04", "2027-W05", "2027-W06")


@asynccontextmanager
async def insights_database(
    database_for: DatabaseFor,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Insights' database (SQLite here, PostgreSQL with CI=true), migrated to head."""
    url, schema = database_for("insights")
    engine = create_engine(url, schema)
    try:
        await upgrade_to_head(engine, MIGRATIONS, schema)
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def store_communities(
    sessions: async_sessionmaker[AsyncSession], names: dict[str, str]
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            communities.insert(),
            [
                {
                    "community_id": community,
                    "name": name,
                    "region_code": REGION,
                    "active": True,
                    "changed_at": COMPUTED_AT,
                }
                for community, name in names.items()
            ],
        )


async def store_releases(
    sessions: async_sessionmaker[AsyncSession],
    periods: tuple[str, ...],
    values: tuple[StoredValue, ...],
) -> None:
    """A release row for each of ``periods`` (its cadence from its name), then ``values``."""
    async with sessions() as session, session.begin():
        await session.execute(
            releases.insert(),
            [
                {
                    "release_id": f"{'week' if '-W' in period else 'period'}:{period}",
                    "cadence": "week" if "-W" in period else "period",
                    "period": period,
                    "computed_at": COMPUTED_AT,
                    "rho": 0.02,
                    "method_version": METHOD_VERSION,
                }
                for period in periods
            ],
        )
        if values:
            await session.execute(release_values.insert(), [value.row() for value in values])


async def store_example(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Two communities of one region; six weekly releases and one 4-week one."""
    await store_communities(sessions, {RIVERSIDE: "Riverside", HILLSIDE: "Hillside"})
    await store_releases(sessions, (*WEEKS, "2027-P01"), RIVERSIDE_WEEKS + OTHER_VALUES)


class Shown(Protocol):
    """A released value as the page shows it: a stored row, or a ``ValueRow`` read back."""

    @property
    def value(self) -> float | None: ...
    @property
    def lower(self) -> float | None: ...
    @property
    def upper(self) -> float | None: ...
    @property
    def noisy_n(self) -> int | None: ...
    @property
    def flag(self) -> str | None: ...


def expected_table(
    shown: Mapping[str, Shown], periods: Sequence[str], unit: str = "%"
) -> list[list[str]]:
    """The page's table for these periods, newest first: period, value, lower, upper, noisy
    n, flag (a period without a row: not released, x)."""

    def number(value: float | None) -> str:
        if value is None:
            return ""
        return f"{value:.1f}%" if unit == "%" else f"{value:.0f}"

    rows = []
    for period in reversed(periods):
        value = shown.get(period)
        if value is None:
            rows.append([period, "not released", "", "", "", "x"])
        elif value.flag == "c":
            rows.append([period, "withheld", "", "", "", "c"])
        else:
            rows.append(
                [
                    period,
                    number(value.value),
                    number(value.lower),
                    number(value.upper),
                    "" if value.noisy_n is None else str(value.noisy_n),
                    value.flag or "",
                ]
            )
    return rows
