"""The analysts' app over a migrated insights database holding the example releases, reached
through httpx's ASGI transport (the real app: its edge middleware, throttle included)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from services.insights.api.app import create_analyst_api
from services.insights.settings import InsightsSettings
from shared.clock import ManualClock
from shared.settings import Environment
from tests.integration.dashboard.stored_releases import insights_database, store_example

ANALYST_TOKEN = "analyst-token-for-the-dashboard-tests-7Qm2"
Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def database(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with insights_database(database_for) as sessions:
        yield sessions


@pytest.fixture
async def example(database: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await store_example(database)
    return database


@asynccontextmanager
async def open_analysts(
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    base_url: str = "http://insights.test",
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new analysts' app over ``sessions``; ``overrides`` are settings
    (``public_releases=True``), ``base_url`` where it is served (``https://…`` for TLS)."""
    settings = InsightsSettings(
        environment=Environment.dev,
        database_url="sqlite+aiosqlite://",  # unused: the app is handed its sessions
        analyst_token=SecretStr(ANALYST_TOKEN),
        operator_token=SecretStr("operator-token-not-for-analysts-3Rk8"),
        **overrides,
    )
    app = create_analyst_api(settings, sessions, clock, {})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


@pytest.fixture
def analysts(example: async_sessionmaker[AsyncSession], clock: ManualClock) -> Client:
    """Opens clients of analysts' apps over the example releases (see ``open_analysts``)."""
    return partial(open_analysts, example, clock)
