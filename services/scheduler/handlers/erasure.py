"""A member erased in the notifier: drop their enrolments, pending nudges and ritual choices.

Applied as MemberErased events arrive, and again for every erasure on the ERASURES stream (it
never expires) each time the scheduler starts: a database restored from a backup taken before an
erasure must not bring the member's enrolments back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.adapters.tables import enrolments, member_ritual_choices, nudge_timers
from shared.contracts import MemberErasedV1
from shared.messaging.stream_scan import scan_stream
from shared.streams import ERASURES


async def on_member_erased(
    sessions: async_sessionmaker[AsyncSession], event: MemberErasedV1
) -> str:
    """Idempotent: a redelivery deletes nothing more."""
    async with sessions() as session, session.begin():
        await session.execute(delete(enrolments).where(enrolments.c.member_id == event.member_id))
        await session.execute(
            delete(nudge_timers).where(nudge_timers.c.member_id == event.member_id)
        )
        await session.execute(
            delete(member_ritual_choices).where(
                member_ritual_choices.c.member_id == event.member_id
            )
        )
    return "erased"


@dataclass
class ErasureReplay:
    """Re-applies every MemberErased when the service starts (a ``Resource``: after the streams
    exist, before consumers and the tick)."""

    sessions: async_sessionmaker[AsyncSession]
    jetstream: Callable[[], JetStreamContext]
    replayed: int = 0

    async def start(self) -> None:
        async for message in scan_stream(self.jetstream(), ERASURES, MemberErasedV1.subject):
            try:
                event = MemberErasedV1.model_validate_json(message.data)
            except ValueError:
                continue  # the durable consumer dead-letters it with the reason
            await on_member_erased(self.sessions, event)
            self.replayed += 1

    async def close(self) -> None:
        return None
