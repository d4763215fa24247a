"""Alembic, driven from async code, one version table per service.

Each service keeps its migrations in ``services/<name>/migrations`` and its ``env.py`` is a
single call to ``run_alembic_env``. Services upgrade at start (dev) or from a Kubernetes Job
(``python -m services.<name> migrate``); a PostgreSQL advisory lock makes concurrent
upgrades from several replicas safe.
"""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine


def alembic_config(script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


async def upgrade_to_head(engine: AsyncEngine, script_location: Path, schema: str | None) -> None:
    """Bring the database to the newest revision. Safe to call from several replicas at once."""
    config = alembic_config(script_location)
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            lock_key = zlib.crc32(str(script_location.name).encode()) & 0x7FFFFFFF
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
            if schema:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        def _upgrade(sync_connection: Connection) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, "head")

        await connection.run_sync(_upgrade)


def run_alembic_env(target_metadata: MetaData, version_table: str) -> None:
    """The body of every service's ``env.py``."""

    def configure_and_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            version_table=version_table,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure_and_run(connection)
        return

    async def run_with_own_engine() -> None:
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("set sqlalchemy.url, or run migrations through the service")
        engine = create_engine(url)
        async with engine.begin() as own_connection:
            await own_connection.run_sync(configure_and_run)
        await engine.dispose()

    asyncio.run(run_with_own_engine())
