"""``insert_ignoring_duplicates`` takes any number of rows (a ritual due for a community of
10,000 is one batch of 10,000 outbox rows: more bound values than asyncpg or SQLite accept in
one statement) and counts only the rows that were new."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData, func, select

from services.demo.system import DatabaseFor
from shared.db import create_engine, insert_ignoring_duplicates, session_factory
from shared.outbox import outbox_table

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def rows(first: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"event-{n:08d}",
            "subject": "rituals.due.v1",
            "payload": b"{}",
            "headers": None,
            "created_at": NOW,
        }
        for n in range(first, first + count)
    ]


async def test_ten_thousand_rows_insert_and_only_new_ones_count(
    database_for: DatabaseFor,
) -> None:
    url, schema = database_for("inserts")
    metadata = MetaData()
    table = outbox_table(metadata)
    engine = create_engine(url, schema)
    try:
        async with engine.begin() as connection:
            if schema is not None:
                await connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await connection.run_sync(metadata.create_all)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            assert await insert_ignoring_duplicates(session, table, rows(0, 10_000)) == 10_000
        async with sessions() as session, session.begin():
            # Half known, half new: only the new half counts, and nothing is written twice.
            assert await insert_ignoring_duplicates(session, table, rows(5_000, 10_000)) == 5_000
            assert await insert_ignoring_duplicates(session, table, rows(0, 1)) == 0
            assert await insert_ignoring_duplicates(session, table, []) == 0
        async with sessions() as session:
            stored = await session.execute(select(func.count()).select_from(table))
            assert stored.scalar_one() == 15_000
    finally:
        await engine.dispose()
