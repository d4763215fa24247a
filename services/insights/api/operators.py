"""Operators' commands on insights: a release now, rather than at the scheduled time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.insights.domain.indicators import Cadence
from services.insights.handlers.release import ReleaseOutcome, compute_release

router = APIRouter(prefix="/v1", tags=["operators"])


class ReleaseRequest(BaseModel):
    cadence: Literal["week", "period"]
    period: Annotated[
        str, Field(pattern=r"^\d{4}-(W(0[1-9]|[1-4]\d|5[0-3])|P(0[1-9]|1[0-4]))$")
    ] = Field(description="2027-W01 for a week, 2027-P01 for a period.")


class ReleaseResult(BaseModel):
    release_id: str
    computed_now: bool = Field(description="False: it was released before; nothing was spent.")
    communities: list[str]
    refused: dict[str, str]


@router.post(
    "/releases",
    response_model=ReleaseResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ReleaseResult, "description": "Released before: unchanged."}},
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
        release_id=outcome.release_id,
        computed_now=outcome.stored,
        communities=list(outcome.communities),
        refused=outcome.refused,
    )
    return JSONResponse(
        result.model_dump(), status_code=201 if outcome.stored else status.HTTP_200_OK
    )
