"""Reading stored releases: what the analysts' API and the dashboard serve (never facts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    Join,
    Row,
    Select,
    String,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.insights.adapters.tables import communities, release_values, releases
from shared.http.pagination import KeyValue, SortKey, keyset_fetch

# The analysts' pages. A release's period names it (2027-W01 is a week, 2027-P01 a period), so
# period, area and indicator name one value.
RELEASE_ORDER = SortKey((releases.c.period, releases.c.release_id))
VALUE_ORDER = SortKey(
    (
        releases.c.period,
        release_values.c.area_type,
        release_values.c.area_id,
        release_values.c.indicator,
    )
)


@dataclass(frozen=True)
class ReleaseInfo:
    release_id: str
    cadence: str
    period: str
    computed_at: datetime
    rho: float
    method_version: str
    refused: dict[str, str]


@dataclass(frozen=True)
class ValueRow:
    area: str
    area_type: str
    period: str
    cadence: str
    indicator: str
    value: float | None
    lower: float | None
    upper: float | None
    noisy_n: int | None
    flag: str | None
    method_version: str


@dataclass(frozen=True)
class ValueFilter:
    area: str | None = None
    area_type: str | None = None
    period: str | None = None
    cadence: str | None = None
    indicator: str | None = None


def _release(row: Row[Any]) -> ReleaseInfo:
    return ReleaseInfo(
        row.release_id,
        row.cadence,
        row.period,
        row.computed_at,
        row.rho,
        row.method_version,
        json.loads(row.refused) if row.refused else {},
    )


async def list_releases(session: AsyncSession) -> list[ReleaseInfo]:
    rows = await session.execute(select(releases).order_by(releases.c.period, releases.c.cadence))
    return [_release(row) for row in rows]


async def release_page(
    session: AsyncSession, after: Sequence[KeyValue] | None, limit: int
) -> tuple[list[ReleaseInfo], list[KeyValue] | None]:
    """Up to ``limit`` releases in ``RELEASE_ORDER`` after ``after``, and the key of the last
    one when more follow."""
    rows, last = await keyset_fetch(session, select(releases), RELEASE_ORDER, after, limit)
    return [_release(row) for row in rows], last


@dataclass(frozen=True)
class AreaRow:
    """A community (its name, region and whether it is active) or a region (how many
    communities it holds): ``id`` and ``area_type`` are what ``area`` and ``area_type`` name in
    released values."""

    id: str
    area_type: str
    name: str | None
    region_code: str | None
    active: bool | None
    communities: int | None


def _areas() -> Any:
    """Communities, then regions, as one relation (a region's row counts its communities)."""
    community = select(
        literal("community", String).label("area_type"),
        communities.c.community_id.label("id"),
        communities.c.name.label("name"),
        communities.c.region_code.label("region_code"),
        communities.c.active.label("active"),
        null().cast(Integer).label("communities"),
    )
    region = select(
        literal("region", String),
        communities.c.region_code,
        null().cast(String),
        null().cast(String),
        null().cast(Boolean),
        func.count(),
    ).group_by(communities.c.region_code)
    return union_all(community, region).subquery("areas")


AREAS = _areas()
AREA_ORDER = SortKey((AREAS.c.area_type, AREAS.c.id))


async def area_page(
    session: AsyncSession, area_type: str | None, after: Sequence[KeyValue] | None, limit: int
) -> tuple[list[AreaRow], list[KeyValue] | None]:
    """Up to ``limit`` areas (of ``area_type``, or both) ordered by type and id, after
    ``after``, and the key of the last one when more follow."""
    query = select(AREAS)
    if area_type is not None:
        query = query.where(AREAS.c.area_type == area_type)
    rows, last = await keyset_fetch(session, query, AREA_ORDER, after, limit)
    return [AreaRow(**row._mapping) for row in rows], last


async def list_areas(
    session: AsyncSession,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(communities, regions), for the areas a release can be about."""
    rows = (await session.execute(select(communities).order_by(communities.c.community_id))).all()
    community_list: list[dict[str, object]] = [
        {
            "id": row.community_id,
            "name": row.name,
            "region_code": row.region_code,
            "active": row.active,
        }
        for row in rows
    ]
    regions: dict[str, int] = {}
    for row in rows:
        regions[row.region_code] = regions.get(row.region_code, 0) + 1
    region_list: list[dict[str, object]] = [
        {"code": code, "communities": count} for code, count in sorted(regions.items())
    ]
    return community_list, region_list


def _filtered(query: Select[Any], wanted: ValueFilter) -> Select[Any]:
    values, release = release_values.c, releases.c
    if wanted.area is not None:
        query = query.where(values.area_id == wanted.area)
    if wanted.area_type is not None:
        query = query.where(values.area_type == wanted.area_type)
    if wanted.period is not None:
        query = query.where(release.period == wanted.period)
    if wanted.cadence is not None:
        query = query.where(release.cadence == wanted.cadence)
    if wanted.indicator is not None:
        query = query.where(values.indicator == wanted.indicator)
    return query


def _joined() -> Join:
    return release_values.join(releases, releases.c.release_id == release_values.c.release_id)


async def count_values(session: AsyncSession, wanted: ValueFilter) -> int:
    query = select(func.count()).select_from(_joined())
    return int((await session.execute(_filtered(query, wanted))).scalar_one())


def _value_columns() -> Select[Any]:
    values, release = release_values.c, releases.c
    return select(
        values.area_id,
        values.area_type,
        release.period,
        release.cadence,
        values.indicator,
        values.value,
        values.lower,
        values.upper,
        values.noisy_numerator,
        values.noisy_denominator,
        values.flag,
        release.method_version,
    ).select_from(_joined())


async def read_values(
    session: AsyncSession, wanted: ValueFilter, offset: int, limit: int
) -> list[ValueRow]:
    """Rows ``offset`` to ``offset + limit`` in ``VALUE_ORDER`` (the dashboard's latest few)."""
    query = _value_columns().order_by(*VALUE_ORDER.order_by()).offset(offset).limit(limit)
    rows = await session.execute(_filtered(query, wanted))
    return [_row(row) for row in rows]


async def value_page(
    session: AsyncSession, wanted: ValueFilter, after: Sequence[KeyValue] | None, limit: int
) -> tuple[list[ValueRow], list[KeyValue] | None]:
    """Up to ``limit`` values in ``VALUE_ORDER`` after ``after`` (a keyset page: releases
    stored meanwhile shift nothing), and the key of the last one when more follow."""
    query = _filtered(_value_columns(), wanted)
    rows, last = await keyset_fetch(session, query, VALUE_ORDER, after, limit)
    return [_row(row) for row in rows], last


def _row(row: Row[Any]) -> ValueRow:
    withheld = row.flag == "c"
    n = row.noisy_denominator if row.noisy_denominator is not None else row.noisy_numerator
    return ValueRow(
        area=row.area_id,
        area_type=row.area_type,
        period=row.period,
        cadence=row.cadence,
        indicator=row.indicator,
        value=row.value,
        lower=row.lower,
        upper=row.upper,
        # A withheld cell says nothing but that it is withheld.
        noisy_n=None if withheld else max(round(n), 0),
        flag=row.flag,
        method_version=row.method_version,
    )
