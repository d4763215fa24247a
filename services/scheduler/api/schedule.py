"""What is due next: the scheduler's cursors, soonest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from services.scheduler.adapters.tables import schedule_cursors
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import UpcomingOccurrence
from shared.http.pagination import Page, PageQuery, SortKey, keyset_rows, next_cursor

router = APIRouter(prefix="/v1/schedule", tags=["schedule"])
Context = Annotated[ApiContext, Depends(api_context)]
CURSOR = schedule_cursors.c
SOONEST_FIRST = SortKey((CURSOR.next_due_at, CURSOR.ritual_id, CURSOR.timezone, CURSOR.slot))


@router.get("/upcoming", response_model=Page[UpcomingOccurrence])
async def upcoming(
    context: Context, page: PageQuery, request: Request, response: Response
) -> Page[UpcomingOccurrence]:
    """The next occurrence of each ritual in each zone at each time slot, soonest first."""
    async with context.sessions() as session:
        rows, last = await keyset_rows(session, select(schedule_cursors), SOONEST_FIRST, page, {})
    return Page[UpcomingOccurrence](
        items=[
            UpcomingOccurrence(
                ritual_id=row.ritual_id,
                timezone=row.timezone,
                slot=row.slot + 1,
                due_at=row.next_due_at,
            )
            for row in rows
        ],
        next_cursor=next_cursor(last, {}, request, response),
    )
