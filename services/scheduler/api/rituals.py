from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import communities, rituals
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import RitualIn, RitualOut
from services.scheduler.domain.ritual import Ritual

router = APIRouter(prefix="/v1/rituals", tags=["rituals"])
Context = Annotated[ApiContext, Depends(api_context)]


def ritual_out(ritual: Ritual, title: str) -> RitualOut:
    return RitualOut(
        id=ritual.id,
        community_id=ritual.community_id,
        kind=ritual.kind,
        title=title,
        rrule=ritual.rrule,
        dtstart=ritual.dtstart_local,
        pinned_to_community_zone=ritual.pinned_to_community_zone,
        template_key=ritual.template_key,
        response_window_minutes=ritual.response_window_s // 60,
        misfire_grace_minutes=ritual.misfire_grace_s // 60,
        version=ritual.version,
        active=ritual.active,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RitualOut)
async def create_ritual(body: RitualIn, context: Context) -> RitualOut:
    """Create a ritual; its first occurrence is planned at once for every member zone."""
    now = context.clock.now()
    community_id = body.community_id
    ritual_id = body.id or f"rit_{secrets.token_hex(6)}"
    misfire_grace_s = (
        body.misfire_grace_minutes * 60
        if body.misfire_grace_minutes is not None
        else context.default_misfire_grace_s
    )
    async with context.sessions() as session, session.begin():
        exists = (
            await session.execute(select(communities.c.id).where(communities.c.id == community_id))
        ).first()
        if exists is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown community {community_id}"
            )
        taken = (
            await session.execute(select(rituals.c.id).where(rituals.c.id == ritual_id))
        ).first()
        if taken is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"ritual {ritual_id} exists")
        await session.execute(
            rituals.insert().values(
                id=ritual_id,
                community_id=community_id,
                kind=body.kind.value,
                title=body.title,
                rrule=body.rrule,
                dtstart_local=body.dtstart,
                pinned_to_community_zone=body.pinned_to_community_zone,
                template_key=body.template_key,
                response_window_s=body.response_window_minutes * 60,
                misfire_grace_s=misfire_grace_s,
                version=1,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
        ritual = await repository.load_ritual(session, ritual_id)
        assert ritual is not None
        await repository.plan_cursors(session, ritual, now)
    return ritual_out(ritual, body.title)


@router.get("/{ritual_id}", response_model=RitualOut)
async def get_ritual(ritual_id: str, context: Context) -> RitualOut:
    async with context.sessions() as session:
        ritual = await repository.load_ritual(session, ritual_id)
        title = (
            await session.execute(select(rituals.c.title).where(rituals.c.id == ritual_id))
        ).scalar()
    if ritual is None or title is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ritual {ritual_id}")
    return ritual_out(ritual, title)
