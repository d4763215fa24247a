"""A migrated notifier database for the template store (PostgreSQL with CI=true), and the
render workers the unit tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head
from tests.unit.notifier.templating.conftest import render_pool  # noqa: F401 - a fixture

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "notifier" / "migrations"


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url, schema = database_for("notifier")
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
