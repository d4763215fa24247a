"""Enrolments: which pseudonymous members take part in a community's rituals, and where they
live (each member's 09:00 is their own, unless a ritual is pinned to the community's zone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import communities, enrolments, nudge_timers
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import SLUG, EnrolmentIn, EnrolmentOut, EnrolmentPatch
from services.scheduler.api.validation import unprocessable
from shared.db import insert_ignoring_duplicates
from shared.http.created import set_location
from shared.http.errors import problem_response
from shared.http.pagination import Page, PageQuery, SortKey, keyset_rows, next_cursor

router = APIRouter(prefix="/v1/enrolments", tags=["enrolments"])
Context = Annotated[ApiContext, Depends(api_context)]


async def _plan_community(session: AsyncSession, community_id: str, context: ApiContext) -> None:
    now = context.clock.now()
    for ritual in await repository.community_rituals(session, community_id):
        await repository.plan_cursors(session, ritual, now)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolmentOut,
    responses=problem_response(409, "The member is already enrolled in this community."),
)
async def enrol_member(body: EnrolmentIn, context: Context, response: Response) -> EnrolmentOut:
    """Enrol a pseudonymous member; a zone new to the community gets its cursors planned."""
    async with context.sessions() as session, session.begin():
        community_zone = (
            await session.execute(
                select(communities.c.timezone).where(communities.c.id == body.community_id)
            )
        ).scalar()
        if community_zone is None:
            raise unprocessable("community_id", f"unknown community {body.community_id}")
        timezone = body.timezone or community_zone
        created = await insert_ignoring_duplicates(
            session,
            enrolments,
            [
                {
                    "community_id": body.community_id,
                    "member_id": body.member_id,
                    "timezone": timezone,
                    "created_at": context.clock.now(),
                }
            ],
        )
        if not created:
            raise HTTPException(status.HTTP_409_CONFLICT, "member already enrolled there")
        await _plan_community(session, body.community_id, context)
    set_location(response, router.prefix, body.community_id, body.member_id)
    return EnrolmentOut(community_id=body.community_id, member_id=body.member_id, timezone=timezone)


BY_KEY = SortKey((enrolments.c.community_id, enrolments.c.member_id))


@router.get("", response_model=Page[EnrolmentOut], summary="Enrolments, by community and member")
async def list_enrolments(
    context: Context,
    page: PageQuery,
    request: Request,
    response: Response,
    community_id: Annotated[
        str | None, Query(pattern=SLUG, description="Only this community's enrolments.")
    ] = None,
) -> Page[EnrolmentOut]:
    query = select(enrolments)
    if community_id is not None:
        query = query.where(enrolments.c.community_id == community_id)
    filters = {"community_id": community_id}
    async with context.sessions() as session:
        rows, last = await keyset_rows(session, query, BY_KEY, page, filters)
    return Page[EnrolmentOut](
        items=[EnrolmentOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor(last, filters, request, response),
    )


@router.get("/{community_id}/{member_id}", response_model=EnrolmentOut)
async def get_enrolment(community_id: str, member_id: str, context: Context) -> EnrolmentOut:
    async with context.sessions() as session:
        row = (
            await session.execute(
                select(enrolments).where(_key(community_id, member_id))  # type: ignore[arg-type]
            )
        ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such enrolment")
    return EnrolmentOut.model_validate(row, from_attributes=True)


def _key(community_id: str, member_id: str) -> object:
    return (enrolments.c.community_id == community_id) & (enrolments.c.member_id == member_id)


@router.patch("/{community_id}/{member_id}", response_model=EnrolmentOut)
async def move_member(
    community_id: str, member_id: str, body: EnrolmentPatch, context: Context
) -> EnrolmentOut:
    """The member now lives in another zone: their next occurrences follow it."""
    async with context.sessions() as session, session.begin():
        result = await session.execute(
            update(enrolments)
            .where(_key(community_id, member_id))  # type: ignore[arg-type]
            .values(timezone=body.timezone)
        )
        if not getattr(result, "rowcount", 0):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such enrolment")
        await _plan_community(session, community_id, context)
    return EnrolmentOut(community_id=community_id, member_id=member_id, timezone=body.timezone)


@router.delete("/{community_id}/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unenrol_member(community_id: str, member_id: str, context: Context) -> Response:
    """No further prompts or nudges for this member in this community."""
    async with context.sessions() as session, session.begin():
        result = await session.execute(
            delete(enrolments).where(_key(community_id, member_id))  # type: ignore[arg-type]
        )
        if not getattr(result, "rowcount", 0):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such enrolment")
        await session.execute(
            delete(nudge_timers).where(
                (nudge_timers.c.community_id == community_id)
                & (nudge_timers.c.member_id == member_id)
            )
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
