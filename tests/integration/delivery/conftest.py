"""The notifier's schema, migrated, for the repository-level tests of this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "notifier" / "migrations"


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url, schema = database_for("notifier")
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    yield session_factory(engine)
    await engine.dispose()
