"""The analysts' read API: released figures only, as JSON or tidy CSV, with their catalogue.

Nothing here reads a fact: every number comes from a stored release (``release_store``), so
asking again returns the same numbers and spends no privacy budget.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.release_store import (
    ValueFilter,
    ValueRow,
    count_values,
    list_areas,
    list_releases,
    read_values,
)
from services.insights.domain.indicators import INDICATORS
from shared.contracts.base import CommunityId

router = APIRouter(prefix="/v1", tags=["releases"])
AREA = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
WINDOW = r"^\d{4}-(W(0[1-9]|[1-4]\d|5[0-3])|P(0[1-9]|1[0-4]))$"
CSV_ROWS = 50_000
CSV_COLUMNS = (
    "area",
    "area_type",
    "period",
    "indicator",
    "value",
    "lower",
    "upper",
    "noisy_n",
    "flag",
    "method_version",
)


def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return factory


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(sessions)]


class CommunityArea(BaseModel):
    id: CommunityId
    name: str
    region_code: str
    active: bool


class RegionArea(BaseModel):
    code: str
    communities: int


class Areas(BaseModel):
    communities: list[CommunityArea]
    regions: list[RegionArea]


@router.get("/areas", response_model=Areas, summary="Communities and regions")
async def get_areas(factory: Sessions) -> Areas:
    async with factory() as session:
        communities, regions = await list_areas(session)
    return Areas.model_validate({"communities": communities, "regions": regions})


class ReleaseOut(BaseModel):
    release_id: str
    cadence: Literal["week", "period"]
    period: str = Field(description="2027-W01 (an ISO week) or 2027-P01 (ISO weeks 1-4).")
    computed_at: str
    rho: float = Field(description="zCDP ρ the release spent per community.")
    method_version: str
    refused: dict[str, str] = Field(
        description="Communities left out (a budget the release would have overdrawn), and why."
    )


@router.get("/periods", response_model=list[ReleaseOut], summary="Released weeks and periods")
async def get_releases(factory: Sessions) -> list[ReleaseOut]:
    async with factory() as session:
        found = await list_releases(session)
    return [
        ReleaseOut(
            release_id=r.release_id,
            cadence=r.cadence,
            period=r.period,
            computed_at=r.computed_at.isoformat(),
            rho=r.rho,
            method_version=r.method_version,
            refused=r.refused,
        )
        for r in found
    ]


class IndicatorOut(BaseModel):
    code: str
    number: int
    title: str
    kind: Literal["proportion", "count"]
    unit: Literal["percent", "people"]
    cadences: list[Literal["week", "period"]]
    numerator: str
    denominator: str | None
    source: str
    validated: bool
    note: str


@router.get("/indicators", response_model=list[IndicatorOut], summary="The indicator catalogue")
async def get_indicators() -> list[IndicatorOut]:
    """What each indicator counts; the methodology page (``/methodology``) explains the rest."""
    return [
        IndicatorOut(
            code=i.code,
            number=i.number,
            title=i.title,
            kind=i.kind.value,
            unit="percent" if i.kind.value == "proportion" else "people",
            cadences=[c.value for c in i.measures],
            numerator=i.numerator,
            denominator=i.denominator,
            source=i.source,
            validated=i.validated,
            note=i.note,
        )
        for i in INDICATORS
    ]


class ValueOut(BaseModel):
    area: str
    area_type: Literal["community", "region"]
    period: str
    indicator: str
    value: float | None = Field(description="Percent, or people; null when withheld (c).")
    lower: float | None = Field(description="95% interval, noise included.")
    upper: float | None
    noisy_n: int | None = Field(description="The noisy denominator (people, for a count).")
    flag: Literal["c", "u"] | None = Field(
        description="c: withheld (too few people); u: low reliability (interval wider than "
        "±10 points); null: published."
    )
    method_version: str


class ValuesPage(BaseModel):
    items: list[ValueOut]
    page: int
    per_page: int
    total: int


class ValueQuery(BaseModel):
    area: str | None = Field(default=None, pattern=AREA)
    area_type: Literal["community", "region"] | None = None
    period: str | None = Field(default=None, pattern=WINDOW)
    cadence: Literal["week", "period"] | None = None
    indicator: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,48}$")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=100, ge=1, le=1000)

    def filter(self) -> ValueFilter:
        return ValueFilter(self.area, self.area_type, self.period, self.cadence, self.indicator)


def _out(row: ValueRow) -> ValueOut:
    return ValueOut.model_validate(row, from_attributes=True)


@router.get("/values", response_model=ValuesPage, summary="Released values (JSON)")
async def get_values(query: Annotated[ValueQuery, Query()], factory: Sessions) -> ValuesPage:
    """One row per area, period and indicator; filter by any of them; paginated."""
    async with factory() as session:
        total = await count_values(session, query.filter())
        rows = await read_values(
            session, query.filter(), (query.page - 1) * query.per_page, query.per_page
        )
    return ValuesPage(
        items=[_out(row) for row in rows], page=query.page, per_page=query.per_page, total=total
    )


@router.get(
    "/values.csv",
    summary="Released values (tidy CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "Tidy CSV, one row a value."}},
)
async def get_values_csv(query: Annotated[ValueQuery, Query()], factory: Sessions) -> Response:
    """The same rows as ``/v1/values``, as CSV: area, area_type, period, indicator, value,
    lower, upper, noisy_n, flag, method_version. Empty cells: withheld or not applicable. Up to
    50,000 rows a file (``page`` for more); ``per_page`` does not apply."""
    async with factory() as session:
        rows = await read_values(session, query.filter(), (query.page - 1) * CSV_ROWS, CSV_ROWS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        out = _out(row)
        writer.writerow(["" if getattr(out, c) is None else getattr(out, c) for c in CSV_COLUMNS])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="connection-indicators.csv"'},
    )
