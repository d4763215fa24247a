from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.demo.system import DatabaseFor, LocalSystem
from shared.clock import ManualClock


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[LocalSystem]:
    """The local system without the authentication-failure throttle in the way: the fuzzer
    sends thousands of requests without valid credentials from one address, on a clock that
    does not move (so every one of them counts)."""
    no_throttle = {"auth_failure_limit": 1_000_000_000}
    async with LocalSystem(tmp_path, clock, database_for, common_overrides=no_throttle) as local:
        yield local
