from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.demo.system import DatabaseFor
from services.scheduler.handlers.emit_due import EmissionPolicy
from shared.clock import ManualClock
from tests.integration.scheduler.harness import SchedulerHarness


@pytest.fixture
async def scheduler(
    database_for: DatabaseFor, clock: ManualClock
) -> AsyncIterator[SchedulerHarness]:
    url, schema = database_for("scheduler")
    harness = SchedulerHarness(url, schema, clock, EmissionPolicy(batch_size=50))
    await harness.start()
    yield harness
    await harness.close()
