"""The analysts' read API: released figures only, as JSON or tidy CSV, with their catalogue.

Nothing here reads a fact: every number comes from a stored release (``release_store``), so
asking again returns the same numbers and spends no privacy budget. Every list is a page
(``shared/http/pagination.py``: ``items`` and ``next_cursor``, ``limit`` and ``cursor``, a
``Link`` header), as on the operators' APIs; the CSV file follows the same cursor.
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
    AREA_ORDER,
    RELEASE_ORDER,
    VALUE_ORDER,
    ValueFilter,
    ValueRow,
    area_page,
    release_page,
    value_page,
)
from services.insights.domain.indicators import INDICATORS
from shared.http.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    PageQuery,
    list_page,
    next_cursor,
    read_cursor,
)

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


class AreaOut(BaseModel):
    id: str = Field(description="A community's id or a region's code (`area` in /v1/values).")
    area_type: Literal["community", "region"]
    name: str | None = Field(description="A community's name; null for a region.")
    region_code: str | None = Field(description="The region a community is in; null for a region.")
    active: bool | None = Field(description="Whether a community is active; null for a region.")
    communities: int | None = Field(description="How many communities a region holds.")


@router.get("/areas", response_model=Page[AreaOut], summary="Communities and regions")
async def get_areas(
    factory: Sessions,
    page: PageQuery,
    request: Request,
    response: Response,
    area_type: Literal["community", "region"] | None = None,
) -> Page[AreaOut]:
    """Communities first, then regions, each by id: the areas ``/v1/values`` reports on."""
    filters: dict[str, str | None] = {"area_type": area_type}
    after = read_cursor(page.cursor, AREA_ORDER.kinds(), filters)
    async with factory() as session:
        found, last = await area_page(session, area_type, after, page.limit)
    items = [AreaOut.model_validate(row, from_attributes=True) for row in found]
    return Page[AreaOut](items=items, next_cursor=next_cursor(last, filters, request, response))


class ReleaseOut(BaseModel):
    id: str = Field(description="week:2027-W01 or period:2027-P01, as on the operators' API.")
    cadence: Literal["week", "period"]
    period: str = Field(description="2027-W01 (an ISO week) or 2027-P01 (ISO weeks 1-4).")
    computed_at: str
    rho: float = Field(description="zCDP ρ the release spent per community.")
    method_version: str
    refused: dict[str, str] = Field(
        description="Communities left out (a budget the release would have overdrawn), and why."
    )


@router.get("/periods", response_model=Page[ReleaseOut], summary="Released weeks and periods")
async def get_releases(
    factory: Sessions, page: PageQuery, request: Request, response: Response
) -> Page[ReleaseOut]:
    """Oldest period first (a week and the 4-week period it ends in, by their names)."""
    after = read_cursor(page.cursor, RELEASE_ORDER.kinds(), {})
    async with factory() as session:
        found, last = await release_page(session, after, page.limit)
    items = [
        ReleaseOut(
            id=r.release_id,
            cadence=r.cadence,
            period=r.period,
            computed_at=r.computed_at.isoformat(),
            rho=r.rho,
            method_version=r.method_version,
            refused=r.refused,
        )
        for r in found
    ]
    return Page[ReleaseOut](items=items, next_cursor=next_cursor(last, {}, request, response))


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


@router.get("/indicators", response_model=Page[IndicatorOut], summary="The indicator catalogue")
async def get_indicators(
    page: PageQuery, request: Request, response: Response
) -> Page[IndicatorOut]:
    """What each indicator counts, by number; the methodology page (``/methodology``) explains
    the rest. Ten today: one page at the default limit."""
    catalogue = [
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
    items, last = list_page(catalogue, lambda i: (i.number,), (int,), page, {})
    return Page[IndicatorOut](items=items, next_cursor=next_cursor(last, {}, request, response))


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


class ValueFilters(BaseModel):
    area: str | None = Field(default=None, pattern=AREA)
    area_type: Literal["community", "region"] | None = None
    period: str | None = Field(default=None, pattern=WINDOW)
    cadence: Literal["week", "period"] | None = None
    indicator: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,48}$")

    def filter(self) -> ValueFilter:
        return ValueFilter(self.area, self.area_type, self.period, self.cadence, self.indicator)

    def given(self) -> dict[str, str | None]:
        """The filters a cursor is bound to."""
        return {
            "area": self.area,
            "area_type": self.area_type,
            "period": self.period,
            "cadence": self.cadence,
            "indicator": self.indicator,
        }


# Query models rather than PageQuery: FastAPI reads a query model's fields as the parameters,
# and a route takes one such model.
class ValueQuery(ValueFilters):
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Items per page (1 to {MAX_LIMIT})."
    )
    cursor: str | None = Field(
        default=None, description="next_cursor of the previous page, with the same filters."
    )


class CsvQuery(ValueFilters):
    limit: int = Field(
        default=CSV_ROWS, ge=1, le=CSV_ROWS, description=f"Rows in the file (1 to {CSV_ROWS})."
    )
    cursor: str | None = Field(
        default=None,
        description="From the Link header of the previous file, with the same filters.",
    )


def _out(row: ValueRow) -> ValueOut:
    return ValueOut.model_validate(row, from_attributes=True)


@router.get("/values", response_model=Page[ValueOut], summary="Released values (JSON)")
async def get_values(
    query: Annotated[ValueQuery, Query()],
    factory: Sessions,
    request: Request,
    response: Response,
) -> Page[ValueOut]:
    """One row per area, period and indicator, by period, area and indicator; filter by any
    of them."""
    after = read_cursor(query.cursor, VALUE_ORDER.kinds(), query.given())
    async with factory() as session:
        rows, last = await value_page(session, query.filter(), after, query.limit)
    return Page[ValueOut](
        items=[_out(row) for row in rows],
        next_cursor=next_cursor(last, query.given(), request, response),
    )


@router.get(
    "/values.csv",
    summary="Released values (tidy CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "Tidy CSV, one row a value."}},
)
async def get_values_csv(
    query: Annotated[CsvQuery, Query()], factory: Sessions, request: Request
) -> Response:
    """The same rows as ``/v1/values``, as CSV: area, area_type, period, indicator, value,
    lower, upper, noisy_n, flag, method_version. Empty cells: withheld or not applicable. Up to
    ``limit`` (50,000) rows a file; when more follow, ``Link: <…>; rel="next"`` is the next."""
    after = read_cursor(query.cursor, VALUE_ORDER.kinds(), query.given())
    async with factory() as session:
        rows, last = await value_page(session, query.filter(), after, query.limit)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        out = _out(row)
        writer.writerow(["" if getattr(out, c) is None else getattr(out, c) for c in CSV_COLUMNS])
    answer = Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="connection-indicators.csv"'},
    )
    next_cursor(last, query.given(), request, answer)
    return answer
