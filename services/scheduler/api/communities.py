from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy import delete, select, update

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import communities, nudge_timers, outbox
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import CommunityIn, CommunityOut, CommunityPatch
from shared.contracts import CommunityChangedV1, deterministic_event_id
from shared.db import insert_ignoring_duplicates
from shared.http.created import set_location
from shared.http.errors import problem_response
from shared.http.pagination import Page, PageQuery, SortKey, keyset_rows, next_cursor
from shared.outbox import stage_events

router = APIRouter(prefix="/v1/communities", tags=["communities"])
Context = Annotated[ApiContext, Depends(api_context)]


def community_changed(
    community_id: str, name: str, region_code: str, active: bool, context: ApiContext
) -> CommunityChangedV1:
    """The public facts insights releases by (name, official area code); the same facts give
    the same id, so a repeated edit publishes nothing new."""
    return CommunityChangedV1(
        event_id=deterministic_event_id(
            "community.changed", community_id, name, region_code, active
        ),
        occurred_at=context.clock.now(),
        community_id=community_id,
        name=name,
        region_code=region_code,
        active=active,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CommunityOut,
    responses=problem_response(409, "A community with this id exists."),
)
async def create_community(body: CommunityIn, context: Context, response: Response) -> CommunityOut:
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
        if created:
            event = community_changed(community_id, body.name, body.region_code, True, context)
            await stage_events(session, outbox, [event], context.clock.now())
    if not created:
        raise HTTPException(status.HTTP_409_CONFLICT, f"community {community_id} exists")
    context.relay.kick()
    set_location(response, router.prefix, community_id)
    return CommunityOut(id=community_id, **body.model_dump(exclude={"id"}))


BY_ID = SortKey((communities.c.id,))


@router.get("", response_model=Page[CommunityOut], summary="Communities, by id")
async def list_communities(
    context: Context, page: PageQuery, request: Request, response: Response
) -> Page[CommunityOut]:
    async with context.sessions() as session:
        rows, last = await keyset_rows(session, select(communities), BY_ID, page, {})
    return Page[CommunityOut](
        items=[CommunityOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor(last, {}, request, response),
    )


async def _get(community_id: str, context: ApiContext) -> CommunityOut:
    async with context.sessions() as session:
        row = (
            await session.execute(select(communities).where(communities.c.id == community_id))
        ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no community {community_id}")
    return CommunityOut.model_validate(row, from_attributes=True)


@router.get("/{community_id}", response_model=CommunityOut)
async def get_community(community_id: str, context: Context) -> CommunityOut:
    return await _get(community_id, context)


@router.patch("/{community_id}", response_model=CommunityOut)
async def edit_community(community_id: str, body: CommunityPatch, context: Context) -> CommunityOut:
    """A new community zone moves rituals pinned to it; members' own zones are untouched."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    await _get(community_id, context)
    if changes:
        now = context.clock.now()
        async with context.sessions() as session, session.begin():
            await session.execute(
                update(communities).where(communities.c.id == community_id).values(**changes)
            )
            if "timezone" in changes:
                for ritual in await repository.community_rituals(session, community_id):
                    if ritual.pinned_to_community_zone:
                        await repository.replan_cursors(session, ritual, now)
            if {"name", "region_code"} & set(changes):
                row = (
                    await session.execute(
                        select(communities).where(communities.c.id == community_id)
                    )
                ).one()
                event = community_changed(community_id, row.name, row.region_code, True, context)
                await stage_events(session, outbox, [event], now)
        context.relay.kick()
    return await _get(community_id, context)


@router.delete("/{community_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_community(community_id: str, context: Context) -> Response:
    """Delete a community with its rituals, enrolments and pending nudges (its releases stay
    published: insights keeps it as an inactive area)."""
    community = await _get(community_id, context)
    async with context.sessions() as session, session.begin():
        await session.execute(
            delete(nudge_timers).where(nudge_timers.c.community_id == community_id)
        )
        await session.execute(delete(communities).where(communities.c.id == community_id))
        event = community_changed(
            community_id, community.name, community.region_code, False, context
        )
        await stage_events(session, outbox, [event], context.clock.now())
    context.relay.kick()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
