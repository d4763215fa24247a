"""Weekly participation counts per community.

These are exact counts for authenticated analysts of the deploying organisation; the public,
differentially private indicator release with small-cell suppression is a separate endpoint
still to come (see README, "What is not built yet").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.weekly_counts import weekly_counts, weekly_signposting

router = APIRouter(prefix="/v1/communities", tags=["counts"])


class WeeklyCountOut(BaseModel):
    iso_week: str
    responses: int
    respondents: int


def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return factory


@router.get("/{community_id}/weekly-responses", response_model=list[WeeklyCountOut])
async def get_weekly_responses(
    community_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")],
    factory: Annotated[async_sessionmaker[AsyncSession], Depends(sessions)],
) -> list[WeeklyCountOut]:
    async with factory() as session:
        counts = await weekly_counts(session, community_id)
    return [WeeklyCountOut(**vars(count)) for count in counts]


class WeeklySignpostingOut(BaseModel):
    iso_week: str
    support_messages_sent: int


@router.get("/{community_id}/weekly-signposting", response_model=list[WeeklySignpostingOut])
async def get_weekly_signposting(
    community_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")],
    factory: Annotated[async_sessionmaker[AsyncSession], Depends(sessions)],
) -> list[WeeklySignpostingOut]:
    async with factory() as session:
        counts = await weekly_signposting(session, community_id)
    return [WeeklySignpostingOut(iso_week=w, support_messages_sent=n) for w, n in counts.items()]
