"""The notifier's schema, migrated, for the repository-level tests of this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from tests.support import migrated_sessions


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(database_for, "notifier") as sessions:
        yield sessions
