"""Operators' commands on insights: a release now, rather than at the scheduled time, and the
releases made so far (with what each spent and left out)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import releases
from services.insights.domain.indicators import Cadence
from services.insights.handlers.release import ReleaseOutcome, compute_release
from shared.http.errors import UNPROCESSABLE
from shared.http.pagination import Page, PageQuery, SortKey, keyset_rows, next_cursor

router = APIRouter(prefix="/v1", tags=["operators"])


class ReleaseRequest(BaseModel):
    cadence: Literal["week", "period"]
    period: Annotated[
        str, Field(pattern=r"^\d{4}-(W(0[1-9]|[1-4]\d|5[0-3])|P(0[1-9]|1[0-4]))$")
    ] = Field(description="2027-W01 for a week, 2027-P01 for a period.")


class ReleaseResult(BaseModel):
    id: str = Field(description="week:2027-W01 or period:2027-P01.")
    computed_now: bool = Field(description="False: it was released before; nothing was spent.")
    communities: list[str]
    refused: dict[str, str]


@router.post(
    "/releases",
    response_model=ReleaseResult,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ReleaseResult, "description": "Released before: unchanged."},
        **UNPROCESSABLE,
    },
    summary="Release a week or a period now (spends privacy budget once)",
)
async def release_now(body: ReleaseRequest, request: Request) -> JSONResponse:
    """Computes and stores the release if it does not exist yet. A week or period the
    notifier has not closed yet would be released with what has arrived so far: the scheduled
    release waits for the week to close; this is for re-running it after an outage."""
    cadence = Cadence(body.cadence)
    if (body.period[5] == "W") != (cadence is Cadence.week):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a week release names a week (2027-W01), a period release a period (2027-P01)",
        )
    context = request.app.state
    outcome: ReleaseOutcome = await compute_release(
        context.sessions, context.release_policy, context.clock, cadence, body.period
    )
    context.on_release([outcome])
    result = ReleaseResult(
        id=outcome.release_id,
        computed_now=outcome.stored,
        communities=list(outcome.communities),
        refused=outcome.refused,
    )
    return JSONResponse(
        result.model_dump(),
        status_code=201 if outcome.stored else status.HTTP_200_OK,
        headers={"Location": release_path(outcome.release_id)},
    )


def release_path(release_id: str) -> str:
    return f"{router.prefix}/releases/{quote(release_id, safe='')}"


class ReleaseRecord(BaseModel):
    id: str = Field(description="week:2027-W01 or period:2027-P01.")
    cadence: Literal["week", "period"]
    period: str
    computed_at: datetime
    rho: float = Field(description="zCDP ρ the release spent per community.")
    method_version: str
    refused: dict[str, str] = Field(description="Communities left out, and why.")


def _record(row: Any) -> ReleaseRecord:
    return ReleaseRecord(
        id=row.release_id,
        cadence=row.cadence,
        period=row.period,
        computed_at=row.computed_at,
        rho=row.rho,
        method_version=row.method_version,
        refused=json.loads(row.refused) if row.refused else {},
    )


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return factory


BY_ID = SortKey((releases.c.release_id,))


@router.get("/releases", response_model=Page[ReleaseRecord], summary="Releases made, by id")
async def list_releases(
    page: PageQuery, request: Request, response: Response
) -> Page[ReleaseRecord]:
    async with _sessions(request)() as session:
        rows, last = await keyset_rows(session, select(releases), BY_ID, page, {})
    return Page[ReleaseRecord](
        items=[_record(row) for row in rows], next_cursor=next_cursor(last, {}, request, response)
    )


@router.get("/releases/{release_id}", response_model=ReleaseRecord, summary="One release")
async def get_release(
    release_id: Annotated[str, Path(max_length=32)], request: Request
) -> ReleaseRecord:
    async with _sessions(request)() as session:
        row = (
            await session.execute(select(releases).where(releases.c.release_id == release_id))
        ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such release")
    return _record(row)
