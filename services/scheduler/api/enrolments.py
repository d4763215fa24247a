from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import communities, enrolments
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import EnrolmentIn, EnrolmentOut
from shared.db import insert_ignoring_duplicates

router = APIRouter(prefix="/v1/enrolments", tags=["enrolments"])
Context = Annotated[ApiContext, Depends(api_context)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnrolmentOut)
async def enrol_member(body: EnrolmentIn, context: Context) -> EnrolmentOut:
    """Enrol a pseudonymous member; a zone new to the community gets its cursors planned."""
    now = context.clock.now()
    async with context.sessions() as session, session.begin():
        community_zone = (
            await session.execute(
                select(communities.c.timezone).where(communities.c.id == body.community_id)
            )
        ).scalar()
        if community_zone is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown community {body.community_id}"
            )
        timezone = body.timezone or community_zone
        created = await insert_ignoring_duplicates(
            session,
            enrolments,
            [
                {
                    "community_id": body.community_id,
                    "member_id": body.member_id,
                    "timezone": timezone,
                    "created_at": now,
                }
            ],
        )
        if not created:
            raise HTTPException(status.HTTP_409_CONFLICT, "member already enrolled there")
        for ritual in await repository.community_rituals(session, body.community_id):
            await repository.plan_cursors(session, ritual, now)
    return EnrolmentOut(community_id=body.community_id, member_id=body.member_id, timezone=timezone)
