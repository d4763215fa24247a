"""A migrated notifier database (PostgreSQL with CI=true) that several replicas share."""

from __future__ import annotations

import pytest

from services.demo.system import DatabaseFor
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from tests.integration.rate_limits.support import MIGRATIONS


@pytest.fixture
async def shared_database(database_for: DatabaseFor) -> tuple[str, str | None]:
    url, schema = database_for("notifier")
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    await engine.dispose()
    return url, schema
