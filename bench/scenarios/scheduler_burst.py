"""The burst every scheduler scenario fires: who is enrolled, what is due, what must arrive.

``BurstShape`` rituals (one per community) each fire for every member of their community at
``DUE``, in UTC: ``communities x members_per_community`` RitualDue events at one instant. The
scheduler's tables are seeded once (``seed_schedule``); each repetition moves every cursor back to
``DUE`` and empties the outbox (``reset_schedule``). ``expected_messages`` builds, with the
scheduler's own domain code, the exact subject, body and ``Nats-Msg-Id`` of each event the
scheduler will publish, for the bare publisher and APScheduler to send the very same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import delete, func, select, text, update

from bench.scenarios.ritual_rows import ritual_row
from services.scheduler.adapters.tables import (
    communities,
    enrolments,
    missed_occurrences,
    outbox,
    rituals,
    schedule_cursors,
)
from services.scheduler.domain.ritual import NudgePolicy, Ritual
from shared.contracts import RitualKind
from shared.db import create_engine
from shared.messaging.publisher import encode_event
from shared.migrations import upgrade_to_head
from shared.streams import RITUALS

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "scheduler" / "migrations"
# A Monday, 09:00 UTC: every ritual's first occurrence. The scheduler runs on a manual clock,
# so the instant is the same in every repetition (and so are the event ids and bodies).
DUE = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
DTSTART_LOCAL = "2027-01-04T09:00:00"
RRULE = "FREQ=WEEKLY"
ZONE = "UTC"
# Rows per INSERT while seeding: large enough to be quick, small enough for any driver.
SEED_CHUNK = 5_000


@dataclass(frozen=True)
class BurstShape:
    communities: int
    members_per_community: int

    @property
    def events(self) -> int:
        return self.communities * self.members_per_community

    @classmethod
    def of(cls, events: int, members: int = 100) -> BurstShape:
        """Communities of ``members`` (100: a neighbourhood), as many as ``events`` needs."""
        members = min(members, events)
        if events % members:
            raise ValueError(f"{events} events is not a whole number of communities of {members}")
        return cls(events // members, members)


@dataclass(frozen=True)
class Database:
    """Where one scenario's scheduler tables live (a PostgreSQL schema, or a SQLite file)."""

    url: str
    schema: str | None

    @property
    def dialect(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"


def community_id(n: int) -> str:
    return f"bench-c{n:06d}"


def ritual_id(n: int) -> str:
    return f"bench-r{n:06d}"


def member_id(community: int, n: int) -> str:
    # Synthetic pseudonyms in the contracts' format; never printed.
    return f"mbr_bench{community:06d}m{n:05d}"


def ritual(n: int) -> Ritual:
    """The ritual of community ``n`` as the scheduler loads it from the seeded rows."""
    return Ritual(
        id=ritual_id(n),
        community_id=community_id(n),
        community_timezone=ZONE,
        kind=RitualKind.check_in,
        rrule=RRULE,
        dtstart_local=DTSTART_LOCAL,
        exdates=(),
        pinned_to_community_zone=False,
        template_key="check_in",
        response_window_s=3600,
        misfire_grace_s=3600,
        nudges=NudgePolicy(after=None, max_nudges=0),
        version=1,
        active=True,
    )


@dataclass(frozen=True)
class Message:
    subject: str
    body: bytes
    event_id: str


def expected_messages(shape: BurstShape) -> list[Message]:
    """What the scheduler publishes when its clock reaches ``DUE`` (emitted at ``DUE``, not
    late), built by the scheduler's own domain code."""
    messages = []
    for community in range(shape.communities):
        due_for = ritual(community).due_event
        for n in range(shape.members_per_community):
            event = due_for(member_id(community, n), ZONE, DUE, DUE, False)
            subject, body, _headers = encode_event(event)
            messages.append(Message(subject, body, event.event_id))
    return messages


def _chunks(rows: list[dict[str, object]]) -> Iterator[list[dict[str, object]]]:
    for start in range(0, len(rows), SEED_CHUNK):
        yield rows[start : start + SEED_CHUNK]


async def seed_schedule(database: Database, shape: BurstShape) -> None:
    """Migrate and store the communities, rituals, enrolments and cursors (once per bench)."""
    engine = create_engine(database.url, database.schema)
    try:
        if database.schema:
            async with engine.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"'))
        await upgrade_to_head(engine, MIGRATIONS, database.schema)
        created = DUE - timedelta(days=30)
        community_rows: list[dict[str, object]] = [
            {
                "id": community_id(n),
                "name": f"Bench community {n}",
                "timezone": ZONE,
                "region_code": "X",
                "locale": "en",
                "created_at": created,
            }
            for n in range(shape.communities)
        ]
        ritual_rows: list[dict[str, object]] = [
            ritual_row(
                ritual_id(n), community_id(n), RRULE, DTSTART_LOCAL, created, "Weekly check-in"
            )
            for n in range(shape.communities)
        ]
        enrolment_rows: list[dict[str, object]] = [
            {
                "community_id": community_id(c),
                "member_id": member_id(c, n),
                "timezone": ZONE,
                "created_at": created,
            }
            for c in range(shape.communities)
            for n in range(shape.members_per_community)
        ]
        cursor_rows: list[dict[str, object]] = [
            {"ritual_id": ritual_id(n), "timezone": ZONE, "next_due_at": DUE}
            for n in range(shape.communities)
        ]
        for table, rows in (
            (communities, community_rows),
            (rituals, ritual_rows),
            (enrolments, enrolment_rows),
            (schedule_cursors, cursor_rows),
        ):
            for chunk in _chunks(rows):
                async with engine.begin() as connection:
                    await connection.execute(table.insert(), chunk)
        if database.dialect == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def reset_schedule(database: Database) -> None:
    """Every cursor back at ``DUE``, nothing staged or missed: the burst can fire again."""
    engine = create_engine(database.url, database.schema)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(schedule_cursors).values(next_due_at=DUE))
            await connection.execute(delete(outbox))
            await connection.execute(delete(missed_occurrences))
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class ScheduleState:
    cursors: int
    cursors_not_advanced: int
    outbox_rows: int


async def schedule_state(database: Database) -> ScheduleState:
    """Whether the burst is done on the database side: cursors past ``DUE``, outbox empty."""
    engine = create_engine(database.url, database.schema)
    try:
        async with engine.connect() as connection:
            cursors = (
                await connection.execute(select(func.count()).select_from(schedule_cursors))
            ).scalar_one()
            behind = (
                await connection.execute(
                    select(func.count())
                    .select_from(schedule_cursors)
                    .where(schedule_cursors.c.next_due_at <= DUE)
                )
            ).scalar_one()
            staged = (
                await connection.execute(select(func.count()).select_from(outbox))
            ).scalar_one()
        return ScheduleState(int(cursors), int(behind), int(staged))
    finally:
        await engine.dispose()


async def drop_schema(database: Database) -> None:
    if not database.schema:
        return
    engine = create_engine(database.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE'))
    finally:
        await engine.dispose()


async def fresh_rituals_stream(js: JetStreamContext) -> None:
    """The RITUALS stream as the services declare it, empty (its duplicate window too)."""
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(RITUALS.name)
    await js.add_stream(RITUALS.config(1))


async def stream_messages(js: JetStreamContext) -> int:
    return int((await js.stream_info(RITUALS.name)).state.messages)


@dataclass(frozen=True)
class Arrival:
    messages: int
    # Wall-clock time (time.time()) the last of them was stored, as the stream recorded it.
    last_stored_at: float


async def wait_for_messages(
    js: JetStreamContext, count: int, timeout_s: float, poll_s: float = 0.02
) -> Arrival:
    """Until the stream holds ``count`` messages; then when its last one was stored."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = await js.stream_info(RITUALS.name)
        if info.state.messages >= count:
            last = await js.get_msg(RITUALS.name, seq=info.state.last_seq)
            # The server's own stamp: finer than this poll's interval.
            stored = last.time.timestamp() if last.time is not None else time.time()
            return Arrival(int(info.state.messages), stored)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the stream holds {info.state.messages} of {count} messages after {timeout_s} s"
            )
        await asyncio.sleep(poll_s)
