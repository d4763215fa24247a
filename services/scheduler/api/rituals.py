"""Rituals: create, read, edit, pause, resume, delete, preview.

Every edit bumps the ritual's version, which is part of each occurrence's event id. Before an
edit takes effect, occurrences already due are emitted under the old version; the cursors are
then planned from now, so an edit never re-fires an occurrence that was already sent.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import (
    communities,
    missed_occurrences,
    nudge_timers,
    rituals,
)
from services.scheduler.api.dependencies import ApiContext, api_context
from services.scheduler.api.schemas import (
    MissedOccurrence,
    NudgeTimerOut,
    RitualIn,
    RitualOut,
    RitualPatch,
)
from services.scheduler.api.validation import checked_schedule, unprocessable
from services.scheduler.domain.recurrence import load_zone
from services.scheduler.domain.ritual import Ritual
from services.scheduler.domain.time_slots import join_slots
from services.scheduler.handlers.emit_due import emit_due_batch
from shared.http.created import set_location
from shared.http.errors import UNPROCESSABLE, problem_response
from shared.http.pagination import Page, PageQuery, SortKey, keyset_rows, next_cursor

router = APIRouter(prefix="/v1/rituals", tags=["rituals"])
Context = Annotated[ApiContext, Depends(api_context)]
SLUG = r"^[a-z0-9][a-z0-9_-]{1,63}$"


def ritual_out(ritual: Ritual, title: str) -> RitualOut:
    return RitualOut(
        id=ritual.id,
        community_id=ritual.community_id,
        kind=ritual.kind,
        title=title,
        rrule=ritual.rrule,
        dtstart=ritual.dtstart_local,
        exdates=list(ritual.exdates),
        pinned_to_community_zone=ritual.pinned_to_community_zone,
        template_key=ritual.template_key,
        response_window_minutes=ritual.response_window_s // 60,
        misfire_grace_minutes=ritual.misfire_grace_s // 60,
        nudge_after_minutes=(
            int(ritual.nudges.after.total_seconds()) // 60 if ritual.nudges.after else None
        ),
        max_nudges=ritual.nudges.max_nudges,
        time_slots=list(ritual.time_slots),
        version=ritual.version,
        active=ritual.active,
    )


async def _load(session: AsyncSession, ritual_id: str, lock: bool = False) -> tuple[Ritual, str]:
    if lock:  # serialise concurrent edits of one ritual
        await session.execute(
            select(rituals.c.id).where(rituals.c.id == ritual_id).with_for_update()
        )
    ritual = await repository.load_ritual(session, ritual_id)
    title = (
        await session.execute(select(rituals.c.title).where(rituals.c.id == ritual_id))
    ).scalar()
    if ritual is None or title is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ritual {ritual_id}")
    return ritual, title


async def _flush_due_under_current_version(
    session: AsyncSession, context: ApiContext, ritual_id: str, now: datetime
) -> None:
    """Emit what is already due before the ritual changes, so nothing due is lost."""
    await repository.lock_ritual_cursors(session, ritual_id)
    while (await emit_due_batch(session, now, context.emission, ritual_id)).cursors:
        pass


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RitualOut,
    responses=problem_response(409, "A ritual with this id exists."),
)
async def create_ritual(body: RitualIn, context: Context, response: Response) -> RitualOut:
    """Create a ritual; its first occurrence is planned at once for every member zone."""
    checked_schedule(
        body.rrule,
        body.dtstart,
        body.exdates or [],
        context.min_prompt_interval,
        body.time_slots or (),
    )
    now = context.clock.now()
    ritual_id = body.id or f"rit_{secrets.token_hex(6)}"
    misfire_grace_s = (
        body.misfire_grace_minutes * 60
        if body.misfire_grace_minutes is not None
        else int(context.default_misfire_grace.total_seconds())
    )
    async with context.sessions() as session, session.begin():
        exists = (
            await session.execute(
                select(communities.c.id).where(communities.c.id == body.community_id)
            )
        ).first()
        if exists is None:
            raise unprocessable("community_id", f"unknown community {body.community_id}")
        taken = (
            await session.execute(select(rituals.c.id).where(rituals.c.id == ritual_id))
        ).first()
        if taken is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"ritual {ritual_id} exists")
        await session.execute(
            rituals.insert().values(
                id=ritual_id,
                community_id=body.community_id,
                kind=body.kind.value,
                title=body.title,
                rrule=body.rrule,
                dtstart_local=body.dtstart,
                exdates=repository.join_exdates(body.exdates or []),
                pinned_to_community_zone=bool(body.pinned_to_community_zone),
                template_key=body.template_key or "check_in",
                response_window_s=(body.response_window_minutes or 24 * 60) * 60,
                misfire_grace_s=misfire_grace_s,
                nudge_after_s=(body.nudge_after_minutes or 0) * 60 or None,
                max_nudges=body.max_nudges if body.max_nudges is not None else 1,
                time_slots=join_slots(body.time_slots or []),
                version=1,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
        ritual, title = await _load(session, ritual_id)
        await repository.plan_cursors(session, ritual, now)
    set_location(response, router.prefix, ritual_id)
    return ritual_out(ritual, title)


BY_ID = SortKey((rituals.c.id,))


@router.get("", response_model=Page[RitualOut], summary="Rituals, by id")
async def list_rituals(
    context: Context,
    page: PageQuery,
    request: Request,
    response: Response,
    community_id: Annotated[
        str | None, Query(pattern=SLUG, description="Only this community's rituals.")
    ] = None,
) -> Page[RitualOut]:
    query = repository.ritual_query()
    if community_id is not None:
        query = query.where(rituals.c.community_id == community_id)
    filters = {"community_id": community_id}
    async with context.sessions() as session:
        rows, last = await keyset_rows(session, query, BY_ID, page, filters)
    return Page[RitualOut](
        items=[ritual_out(repository.ritual_from_row(row), row.title) for row in rows],
        next_cursor=next_cursor(last, filters, request, response),
    )


@router.get("/{ritual_id}", response_model=RitualOut)
async def get_ritual(ritual_id: str, context: Context) -> RitualOut:
    async with context.sessions() as session:
        ritual, title = await _load(session, ritual_id)
    return ritual_out(ritual, title)


@router.patch("/{ritual_id}", response_model=RitualOut)
async def edit_ritual(ritual_id: str, body: RitualPatch, context: Context) -> RitualOut:
    """Change a ritual; the version goes up and future occurrences are planned afresh."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise unprocessable("body", "nothing to change")
    now = context.clock.now()
    async with context.sessions() as session, session.begin():
        current, _ = await _load(session, ritual_id, lock=True)
        checked_schedule(
            changes.get("rrule", current.rrule),
            changes.get("dtstart", current.dtstart_local),
            (changes["exdates"] or []) if "exdates" in changes else current.exdates,
            context.min_prompt_interval,
            (changes["time_slots"] or ()) if "time_slots" in changes else current.time_slots,
        )
        await _flush_due_under_current_version(session, context, ritual_id, now)
        await session.execute(
            update(rituals)
            .where(rituals.c.id == ritual_id)
            .values(**_columns(changes), version=rituals.c.version + 1, updated_at=now)
        )
        ritual, title = await _load(session, ritual_id)
        await repository.replan_cursors(session, ritual, now)
    context.relay.kick()
    return ritual_out(ritual, title)


def _columns(changes: dict[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "dtstart":
            columns["dtstart_local"] = value
        elif name == "exdates":
            columns["exdates"] = repository.join_exdates(value or [])
        elif name == "time_slots":
            columns["time_slots"] = join_slots(value or [])  # null: DTSTART's time only
        elif name == "kind":
            columns["kind"] = value.value if hasattr(value, "value") else value
        elif name == "nudge_after_minutes":
            columns["nudge_after_s"] = value * 60 if value else None  # null: no nudges
        elif name.endswith("_minutes"):
            columns[name.removesuffix("_minutes") + "_s"] = (value or 0) * 60
        elif value is not None:
            columns[name] = value
    return columns


async def _set_active(ritual_id: str, active: bool, context: ApiContext) -> RitualOut:
    now = context.clock.now()
    async with context.sessions() as session, session.begin():
        current, _ = await _load(session, ritual_id, lock=True)
        if current.active == active:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"ritual is already {'active' if active else 'paused'}"
            )
        await _flush_due_under_current_version(session, context, ritual_id, now)
        await session.execute(
            update(rituals).where(rituals.c.id == ritual_id).values(active=active, updated_at=now)
        )
        ritual, title = await _load(session, ritual_id)
        # Resuming plans from now: what fell due while paused is skipped, not sent in a burst.
        await repository.replan_cursors(session, ritual, now)
    context.relay.kick()
    return ritual_out(ritual, title)


ALREADY = problem_response(409, "The ritual is already in that state.")


@router.post("/{ritual_id}/pause", response_model=RitualOut, responses=ALREADY)
async def pause_ritual(ritual_id: str, context: Context) -> RitualOut:
    return await _set_active(ritual_id, False, context)


@router.post("/{ritual_id}/resume", response_model=RitualOut, responses=ALREADY)
async def resume_ritual(ritual_id: str, context: Context) -> RitualOut:
    return await _set_active(ritual_id, True, context)


@router.delete("/{ritual_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_ritual(ritual_id: str, context: Context) -> Response:
    """Delete a ritual: no further occurrences or nudges."""
    async with context.sessions() as session, session.begin():
        await _load(session, ritual_id, lock=True)
        await repository.drop_cursors(session, ritual_id)
        await session.execute(delete(nudge_timers).where(nudge_timers.c.ritual_id == ritual_id))
        await session.execute(delete(rituals).where(rituals.c.id == ritual_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{ritual_id}/preview", response_model=list[datetime], responses=UNPROCESSABLE)
async def preview_ritual(
    ritual_id: str,
    context: Context,
    timezone: Annotated[str | None, Query(description="Zone; the community's if omitted.")] = None,
    count: Annotated[int, Query(ge=1, le=100)] = 10,
    slot: Annotated[int, Query(ge=1, le=3, description="Which time slot (1: the default).")] = 1,
) -> list[datetime]:
    """The next occurrences after now, as UTC instants, read in one zone at one time slot."""
    async with context.sessions() as session:
        ritual, _ = await _load(session, ritual_id)
    try:
        zone = load_zone(timezone or ritual.community_timezone)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    if slot > ritual.slot_count:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the ritual has {ritual.slot_count} time slot{'s' if ritual.slot_count > 1 else ''}",
        )
    return ritual.schedule_for(slot - 1).preview(zone, context.clock.now(), count)


MISSED_ORDER = SortKey((missed_occurrences.c.occurrence_at, missed_occurrences.c.timezone), True)


@router.get("/{ritual_id}/missed", response_model=Page[MissedOccurrence])
async def missed(
    ritual_id: str, context: Context, page: PageQuery, request: Request, response: Response
) -> Page[MissedOccurrence]:
    """Occurrences not sent because the scheduler was down longer than the misfire grace,
    latest first."""
    query = select(missed_occurrences).where(missed_occurrences.c.ritual_id == ritual_id)
    async with context.sessions() as session:
        await _load(session, ritual_id)
        rows, last = await keyset_rows(session, query, MISSED_ORDER, page, {})
    return Page[MissedOccurrence](
        items=[MissedOccurrence.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor(last, {}, request, response),
    )


TIMER_ORDER = SortKey((nudge_timers.c.due_event_id,))


@router.get("/{ritual_id}/nudge-timers", response_model=Page[NudgeTimerOut])
async def nudge_timers_of(
    ritual_id: str, context: Context, page: PageQuery, request: Request, response: Response
) -> Page[NudgeTimerOut]:
    """Prompts of this ritual being watched for an answer, by due event id (``respond_by``
    is null for a prompt answered before it was sent, so it cannot order a cursor)."""
    query = select(nudge_timers).where(nudge_timers.c.ritual_id == ritual_id)
    async with context.sessions() as session:
        await _load(session, ritual_id)
        rows, last = await keyset_rows(session, query, TIMER_ORDER, page, {})
    return Page[NudgeTimerOut](
        items=[NudgeTimerOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor(last, {}, request, response),
    )
