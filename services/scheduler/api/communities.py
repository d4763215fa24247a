from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from services.scheduler.adapters.tables import communities
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import CommunityIn, CommunityOut
from shared.db import insert_ignoring_duplicates

router = APIRouter(prefix="/v1/communities", tags=["communities"])
Context = Annotated[ApiContext, Depends(api_context)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CommunityOut)
async def create_community(body: CommunityIn, context: Context) -> CommunityOut:
    community_id = body.id or f"com_{secrets.token_hex(6)}"
    async with context.sessions() as session, session.begin():
        created = await insert_ignoring_duplicates(
            session,
            communities,
            [
                {
                    "id": community_id,
                    "name": body.name,
                    "timezone": body.timezone,
                    "region_code": body.region_code,
                    "locale": body.locale,
                    "created_at": context.clock.now(),
                }
            ],
        )
    if not created:
        raise HTTPException(status.HTTP_409_CONFLICT, f"community {community_id} exists")
    return CommunityOut(id=community_id, **body.model_dump(exclude={"id"}))


@router.get("/{community_id}", response_model=CommunityOut)
async def get_community(community_id: str, context: Context) -> CommunityOut:
    async with context.sessions() as session:
        row = (
            await session.execute(select(communities).where(communities.c.id == community_id))
        ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no community {community_id}")
    return CommunityOut.model_validate(row, from_attributes=True)
