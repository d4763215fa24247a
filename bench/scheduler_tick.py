"""Does a tick cost O(due), whatever the number of stored rituals?

Stores N rituals (N = 10,000, then 1,000,000), each with a schedule cursor; exactly 1,000 of
them are due at each measured tick, the rest far in the future. Times five ticks per size and
prints the median, and the ratio of the 1,000,000 median to the 10,000 one (1.0 = independent
of the stored count). Same machine, same run, same database. Not a test.

    .venv/bin/python bench/scheduler_tick.py [--database-url URL] [--large 1000000]

Default database: PostgreSQL at TEST_DATABASE_URL or postgresql://postgres@127.0.0.1/test
(a fresh schema, dropped afterwards); pass a sqlite+aiosqlite URL to measure SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from services.scheduler.adapters.tables import communities, enrolments, rituals, schedule_cursors
from services.scheduler.handlers.emit_due import EmissionPolicy, emit_due_occurrences
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "scheduler" / "migrations"
DUE_PER_TICK = 1000
TICKS = 5
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
CHUNK = 20_000


async def _fill(url: str, schema: str | None, stored: int) -> None:
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    async with engine.begin() as connection:
        await connection.execute(
            communities.insert().values(
                id="bench",
                name="bench",
                timezone="UTC",
                region_code="X",
                locale="en",
                created_at=T0,
            )
        )
        await connection.execute(
            enrolments.insert().values(
                community_id="bench",
                member_id="mbr_benchmember0001",
                timezone="UTC",
                created_at=T0,
            )
        )
    due = DUE_PER_TICK * TICKS
    for start in range(0, stored, CHUNK):
        ids = range(start, min(stored, start + CHUNK))
        async with engine.begin() as connection:
            await connection.execute(
                rituals.insert(),
                [
                    {
                        "id": f"r{n:07d}",
                        "community_id": "bench",
                        "kind": "check_in",
                        "title": "t",
                        "rrule": "FREQ=WEEKLY",
                        "dtstart_local": _local(n, due),
                        "exdates": "",
                        "pinned_to_community_zone": False,
                        "template_key": "check_in",
                        "response_window_s": 3600,
                        "misfire_grace_s": 3600,
                        "nudge_after_s": None,
                        "max_nudges": 0,
                        "version": 1,
                        "active": True,
                        "created_at": T0,
                        "updated_at": T0,
                    }
                    for n in ids
                ],
            )
            await connection.execute(
                schedule_cursors.insert(),
                [
                    {"ritual_id": f"r{n:07d}", "timezone": "UTC", "next_due_at": _due_at(n, due)}
                    for n in ids
                ],
            )
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
    await engine.dispose()


def _due_at(n: int, due: int) -> datetime:
    # The first TICKS x 1,000 rituals fall due in groups one minute apart; the rest in a year.
    return T0 + timedelta(minutes=n // DUE_PER_TICK) if n < due else T0 + timedelta(days=365)


def _local(n: int, due: int) -> str:
    return _due_at(n, due).replace(tzinfo=None).isoformat(timespec="seconds")


async def _measure(url: str, schema: str | None) -> list[float]:
    engine = create_engine(url, schema)
    sessions = session_factory(engine)
    policy = EmissionPolicy(batch_size=500)
    durations = []
    for tick in range(TICKS):
        started = time.perf_counter()
        result = await emit_due_occurrences(sessions, T0 + timedelta(minutes=tick), policy)
        durations.append(time.perf_counter() - started)
        assert result.emitted == DUE_PER_TICK, result
    await engine.dispose()
    return durations


async def _one_size(url: str, stored: int) -> list[float]:
    schema: str | None = None
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
    else:
        url = url.replace(".sqlite3", f"-{stored}.sqlite3")
    started = time.perf_counter()
    await _fill(url, schema, stored)
    print(f"  stored {stored:>9,} rituals in {time.perf_counter() - started:.0f} s", flush=True)
    try:
        return await _measure(url, schema)
    finally:
        if schema:
            engine = create_engine(url)
            async with engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    engine_name = args.database_url.split("+")[0]
    print(f"Tick with {DUE_PER_TICK:,} due, {TICKS} ticks per size, on {engine_name}")
    small = await _one_size(args.database_url, args.small)
    large = await _one_size(args.database_url, args.large)
    small_median, large_median = statistics.median(small), statistics.median(large)
    print(
        f"  {args.small:>9,} stored: median tick {small_median * 1000:.0f} ms "
        f"(all: {', '.join(f'{d * 1000:.0f}' for d in small)})"
    )
    print(
        f"  {args.large:>9,} stored: median tick {large_median * 1000:.0f} ms "
        f"(all: {', '.join(f'{d * 1000:.0f}' for d in large)})"
    )
    print(f"ratio (large / small): {large_median / small_median:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
