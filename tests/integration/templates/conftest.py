"""A migrated notifier database for the template store (PostgreSQL with CI=true), and the
render workers the unit tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from tests.support import migrated_sessions
from tests.unit.notifier.templating.conftest import render_pool  # noqa: F401 - a fixture


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(database_for, "notifier") as sessions:
        yield sessions
