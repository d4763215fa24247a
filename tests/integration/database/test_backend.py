"""The database the tests run on is the one CI promises: PostgreSQL when CI=true."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text

from services.demo.system import DatabaseFor
from shared.db import SERVER_SIDE_LIMITS, create_engine
from shared.migrations import alembic_config, upgrade_to_head

MIGRATIONS = Path(__file__).resolve().parents[3] / "services"


async def test_ci_runs_database_tests_on_postgresql(database_for: DatabaseFor) -> None:
    url, schema = database_for("backend_probe")
    engine = create_engine(url, schema)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            dialect = connection.dialect.name
    finally:
        await engine.dispose()
    if os.environ.get("CI", "").lower() == "true":
        assert dialect == "postgresql"
    else:
        assert dialect in {"sqlite", "postgresql"}


async def test_every_service_migrates_to_head_twice_without_error(
    database_for: DatabaseFor,
) -> None:
    for service in ("scheduler", "notifier", "insights"):
        url, schema = database_for(service)
        engine = create_engine(url, schema)
        try:
            await upgrade_to_head(engine, MIGRATIONS / service / "migrations", schema)
            await upgrade_to_head(engine, MIGRATIONS / service / "migrations", schema)
            async with engine.connect() as connection:
                version = (
                    await connection.execute(
                        text(f"SELECT version_num FROM alembic_version_{service}")  # noqa: S608 - fixed names
                    )
                ).scalar()
        finally:
            await engine.dispose()
        script = ScriptDirectory.from_config(alembic_config(MIGRATIONS / service / "migrations"))
        assert version == script.get_current_head()


async def test_migrations_create_exactly_what_the_models_describe(
    database_for: DatabaseFor,
) -> None:
    from services.insights.adapters.tables import metadata as insights
    from services.notifier.adapters.tables import metadata as notifier
    from services.scheduler.adapters.tables import metadata as scheduler

    for service, metadata in (
        ("scheduler", scheduler),
        ("notifier", notifier),
        ("insights", insights),
    ):
        url, schema = database_for(f"{service}_models")
        engine = create_engine(url, schema)
        try:
            await upgrade_to_head(engine, MIGRATIONS / service / "migrations", schema)
            async with engine.connect() as connection:
                differences = await connection.run_sync(
                    _differences, metadata, f"alembic_version_{service}"
                )
        finally:
            await engine.dispose()
        assert differences == [], (service, differences)


def _differences(sync: Connection, metadata: MetaData, version_table: str) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(sync, opts={"version_table": version_table})
    return list(compare_metadata(context, metadata))


async def test_service_connections_ask_postgresql_to_end_sessions_that_vanish(
    postgres_schema: tuple[str, str],
) -> None:
    url, schema = postgres_schema
    engine = create_engine(url, schema, command_timeout_s=15)
    try:
        async with engine.connect() as connection:
            shown = {
                name: (await connection.execute(text(f"SHOW {name}"))).scalar()
                for name in SERVER_SIDE_LIMITS
            }
    finally:
        await engine.dispose()
    assert shown == {
        "idle_in_transaction_session_timeout": "1min",
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
    }
