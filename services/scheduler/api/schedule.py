from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.scheduler.adapters.tables import schedule_cursors
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import UpcomingOccurrence

router = APIRouter(prefix="/v1/schedule", tags=["schedule"])
Context = Annotated[ApiContext, Depends(api_context)]


@router.get("/upcoming", response_model=list[UpcomingOccurrence])
async def upcoming(
    context: Context, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[UpcomingOccurrence]:
    """The next occurrence of each ritual in each zone, soonest first."""
    async with context.sessions() as session:
        rows = (
            await session.execute(
                select(schedule_cursors).order_by(schedule_cursors.c.next_due_at).limit(limit)
            )
        ).all()
    return [
        UpcomingOccurrence(ritual_id=row.ritual_id, timezone=row.timezone, due_at=row.next_due_at)
        for row in rows
    ]
