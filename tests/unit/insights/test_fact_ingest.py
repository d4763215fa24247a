"""How the service takes facts in: batches stored side by side on PostgreSQL, where writers do
not serialise on one lock; one at a time on SQLite, where they do."""

from __future__ import annotations

from services.insights.main import FACT_STORES_IN_FLIGHT, fact_stores_in_flight


def test_facts_are_stored_side_by_side_on_postgresql_only() -> None:
    assert FACT_STORES_IN_FLIGHT > 1
    postgres = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    assert fact_stores_in_flight(postgres) == FACT_STORES_IN_FLIGHT
    assert fact_stores_in_flight("sqlite+aiosqlite:///insights.db") == 1
