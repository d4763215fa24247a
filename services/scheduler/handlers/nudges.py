"""Nudges: one gentle reminder (or up to the ritual's count) when a prompt goes unanswered.

The timer starts when the prompt was actually sent (PromptSent), not when it was due, and each
further nudge waits for the previous one to be sent. An answer (PromptAnswered) stops it, even
one that arrives before the PromptSent it answers. No nudge goes out after the response window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.adapters import repository
from services.scheduler.adapters.tables import nudge_timers, outbox
from services.scheduler.domain.ritual import nudge_event
from services.scheduler.handlers.emit_due import EmissionPolicy, TickResult, in_batches
from shared.contracts import Event, PromptAnsweredV1, PromptSentV1
from shared.db import insert_ignoring_duplicates
from shared.outbox import stage_events


async def on_prompt_sent(sessions: async_sessionmaker[AsyncSession], event: PromptSentV1) -> str:
    """Start (nudge 0) or re-arm (nudge n) the timer. Idempotent on redelivery."""
    async with sessions() as session, session.begin():
        ritual = await repository.load_ritual(session, event.ritual_id)
        if ritual is None or not ritual.active or not ritual.nudges.enabled:
            return "no_nudges"
        assert ritual.nudges.after is not None
        next_nudge_at = event.occurred_at + ritual.nudges.after
        if event.nudge_number == 0:
            started = await insert_ignoring_duplicates(
                session,
                nudge_timers,
                [
                    {
                        "due_event_id": event.due_event_id,
                        "ritual_id": event.ritual_id,
                        "community_id": event.community_id,
                        "member_id": event.member_id,
                        "respond_by": event.respond_by,
                        "next_nudge_at": next_nudge_at,
                        "nudges_sent": 0,
                        "answered_at": None,
                    }
                ],
            )
            return "timer_started" if started else "duplicate"
        if event.nudge_number >= ritual.nudges.max_nudges:
            return "last_nudge_sent"
        result = await session.execute(
            update(nudge_timers)
            .where(
                (nudge_timers.c.due_event_id == event.due_event_id)
                & (nudge_timers.c.nudges_sent == event.nudge_number)
                & nudge_timers.c.next_nudge_at.is_(None)
                & nudge_timers.c.answered_at.is_(None)
            )
            .values(next_nudge_at=next_nudge_at)
        )
        return "timer_rearmed" if getattr(result, "rowcount", 0) else "duplicate"


async def on_prompt_answered(
    sessions: async_sessionmaker[AsyncSession], event: PromptAnsweredV1
) -> str:
    """Stop nudging. Works whichever of PromptSent and PromptAnswered is handled first."""
    async with sessions() as session, session.begin():
        await insert_ignoring_duplicates(
            session,
            nudge_timers,
            [
                {
                    "due_event_id": event.due_event_id,
                    "ritual_id": event.ritual_id,
                    "community_id": event.community_id,
                    "member_id": event.member_id,
                    "respond_by": None,
                    "next_nudge_at": None,
                    "nudges_sent": 0,
                    "answered_at": event.occurred_at,
                }
            ],
        )
        await session.execute(
            update(nudge_timers)
            .where(
                (nudge_timers.c.due_event_id == event.due_event_id)
                & nudge_timers.c.answered_at.is_(None)
            )
            .values(answered_at=event.occurred_at, next_nudge_at=None)
        )
    return "stopped"


async def emit_due_nudges_batch(
    session: AsyncSession, now: datetime, policy: EmissionPolicy
) -> TickResult:
    result = TickResult()
    rows = (
        await session.execute(
            select(nudge_timers)
            .where(nudge_timers.c.next_nudge_at <= now)
            .order_by(nudge_timers.c.next_nudge_at)
            .limit(policy.batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    result.cursors = len(rows)
    events: list[Event] = []
    for row in rows:
        condition = nudge_timers.c.due_event_id == row.due_event_id
        if row.answered_at is not None or (row.respond_by is not None and now >= row.respond_by):
            await session.execute(update(nudge_timers).where(condition).values(next_nudge_at=None))
            result.nudges_expired += 1
            continue
        number = row.nudges_sent + 1
        events.append(
            nudge_event(
                row.due_event_id,
                number,
                row.ritual_id,
                row.community_id,
                row.member_id,
                row.respond_by,
                now,
            )
        )
        # Re-armed when this nudge is actually sent (PromptSent with its number).
        await session.execute(
            update(nudge_timers).where(condition).values(nudges_sent=number, next_nudge_at=None)
        )
    result.nudges = len(events)
    await stage_events(session, outbox, events, now)
    return result


async def emit_due_nudges(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    policy: EmissionPolicy,
    on_committed: Callable[[], None] | None = None,
) -> TickResult:
    return await in_batches(sessions, emit_due_nudges_batch, now, policy, on_committed)


async def forget_old_nudge_timers(
    sessions: async_sessionmaker[AsyncSession], now: datetime, keep: timedelta
) -> None:
    """Timers outlive their window only as long as a redelivered PromptSent could arrive."""
    async with sessions() as session, session.begin():
        await session.execute(delete(nudge_timers).where(nudge_timers.c.respond_by < now - keep))
