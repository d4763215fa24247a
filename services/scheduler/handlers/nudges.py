"""Nudges: one gentle reminder (or up to the ritual's count) when a prompt goes unanswered.

The timer starts when the prompt was actually sent (PromptSent), not when it was due, and each
further nudge waits for the previous one to be sent. An answer (PromptAnswered) stops it, even
one that arrives before the PromptSent it answers. No nudge goes out after the response window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    return (await on_prompts_sent(sessions, [event]))[0]


async def on_prompts_sent(
    sessions: async_sessionmaker[AsyncSession], events: Sequence[PromptSentV1]
) -> list[str]:
    """``on_prompt_sent`` for a batch in one transaction, an outcome per event in order.

    A Monday-09:00 burst sends thousands of prompts of a handful of rituals: each ritual is read
    once per batch and the batch's new timers go in one insert, instead of a transaction, a
    ritual read and an insert per event. First prompts start their timers before any nudge of
    the batch re-arms one (a nudge is sent only after its first prompt's timer fired, so no
    batch holds a nudge before its own first prompt); one timer's re-arms run in the events'
    order.
    """
    async with sessions() as session, session.begin():
        rituals = await repository.load_rituals(session, sorted({e.ritual_id for e in events}))
        outcomes: list[str] = []
        starts: dict[str, dict[str, object]] = {}  # by due event id, first prompts only
        rearms: list[tuple[int, PromptSentV1, datetime]] = []
        for event in events:
            ritual = rituals.get(event.ritual_id)
            if ritual is None or not ritual.active or not ritual.nudges.enabled:
                outcomes.append("no_nudges")
                continue
            assert ritual.nudges.after is not None
            next_nudge_at = event.occurred_at + ritual.nudges.after
            if event.nudge_number == 0:
                fresh = event.due_event_id not in starts
                outcomes.append("timer_started" if fresh else "duplicate")
                starts.setdefault(event.due_event_id, _first_timer(event, next_nudge_at))
            elif event.nudge_number >= ritual.nudges.max_nudges:
                outcomes.append("last_nudge_sent")
            else:
                outcomes.append("duplicate")  # unless the re-arm below finds its timer
                rearms.append((len(outcomes) - 1, event, next_nudge_at))
        if starts:
            await _start_timers(session, starts, outcomes, events)
        # Rows are locked in key order (inserts above, updates here; a stable sort keeps one
        # timer's re-arms in the events' order): two replicas' batches that share timers (a
        # redelivery) then wait for each other instead of deadlocking.
        for index, event, next_nudge_at in sorted(rearms, key=lambda r: r[1].due_event_id):
            if await _rearm(session, event, next_nudge_at):
                outcomes[index] = "timer_rearmed"
    return outcomes


def _first_timer(event: PromptSentV1, next_nudge_at: datetime) -> dict[str, object]:
    return {
        "due_event_id": event.due_event_id,
        "ritual_id": event.ritual_id,
        "community_id": event.community_id,
        "member_id": event.member_id,
        "respond_by": event.respond_by,
        "next_nudge_at": next_nudge_at,
        "nudges_sent": 0,
        "answered_at": None,
    }


async def _start_timers(
    session: AsyncSession,
    starts: dict[str, dict[str, object]],
    outcomes: list[str],
    events: Sequence[PromptSentV1],
) -> None:
    """Insert the batch's new timers; a timer that existed already (a redelivered PromptSent,
    or an answer that came first) is left as it is and its event counts as a duplicate."""
    existing = set(
        (
            await session.execute(
                select(nudge_timers.c.due_event_id).where(
                    nudge_timers.c.due_event_id.in_(list(starts))
                )
            )
        ).scalars()
    )
    await insert_ignoring_duplicates(
        session, nudge_timers, [starts[key] for key in sorted(starts) if key not in existing]
    )
    for index, event in enumerate(events):
        if outcomes[index] == "timer_started" and event.due_event_id in existing:
            outcomes[index] = "duplicate"


async def _rearm(session: AsyncSession, event: PromptSentV1, next_nudge_at: datetime) -> bool:
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
    return bool(getattr(result, "rowcount", 0))


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
