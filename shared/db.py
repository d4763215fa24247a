"""Database plumbing every service shares: engines, an aware-UTC column type, idempotent inserts.

Each service owns its own database (or PostgreSQL schema); nothing here knows their tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Table, TypeDecorator, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware instants as UTC and gives them back aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The server's side of the same story: a replica that vanishes mid-transaction without closing
# its socket (a partition, a frozen VM) would keep its FOR UPDATE row locks until TCP gave up,
# hours; SKIP LOCKED would step around those rows, so their occurrences would wait that long.
# PostgreSQL ends such a session itself: idle in a transaction for 60 s (ours pause there at
# most for a NATS publish), or a peer silent to keepalives for 30 + 3 x 10 s.
SERVER_SIDE_LIMITS = {
    "idle_in_transaction_session_timeout": "60s",
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


def create_engine(
    url: str,
    schema: str | None = None,
    echo: bool = False,
    connect_timeout_s: float = 5.0,
    command_timeout_s: float | None = None,
) -> AsyncEngine:
    """An async engine for SQLite (dev, one replica) or PostgreSQL (tests in CI, production).

    On PostgreSQL a connection attempt gives up after ``connect_timeout_s`` (asyncpg's default
    is 60 s: during a network partition every attempt would hang that long, and the first one
    after the network returns too), and a statement after ``command_timeout_s`` if set (a query
    in flight when packets start vanishing would otherwise wait for TCP to give up, hours).
    asyncpg then cancels the statement, or closes the connection if the cancel cannot get
    through, and SQLAlchemy discards a closed connection instead of pooling it. Engines with a
    statement timeout (the services') also get ``SERVER_SIDE_LIMITS``.
    """
    if url.startswith("sqlite"):
        engine = _create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # Dev only (prod refuses SQLite): in WAL mode, NORMAL survives a crashed process,
            # not a power cut, and does not wait for the disk at every commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {"timeout": connect_timeout_s}
    server_settings: dict[str, str] = {}
    if command_timeout_s is not None:
        connect_args["command_timeout"] = command_timeout_s
        server_settings |= SERVER_SIDE_LIMITS
    if schema:
        server_settings["search_path"] = schema
    if server_settings:
        connect_args["server_settings"] = server_settings
    # pool_pre_ping: a connection the network or the server dropped while it sat in the pool is
    # replaced at checkout instead of failing the caller's first statement.
    return _create_async_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=10, connect_args=connect_args
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> int:
    """Insert rows, silently skipping those whose key exists. Returns how many were new."""
    if not rows:
        return 0
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        pg_statement = postgresql.insert(table).values(list(rows)).on_conflict_do_nothing()
        result = await session.execute(pg_statement)
    else:
        lite_statement = sqlite.insert(table).values(list(rows)).on_conflict_do_nothing()
        result = await session.execute(lite_statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def insert_many_ignoring_duplicates(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> int:
    """Like ``insert_ignoring_duplicates`` for many rows at once, as one cached statement run
    over all of them (executemany): no giant statement to compile for every batch. Returns how
    many rows were offered (the drivers do not all say how many were new)."""
    if not rows:
        return 0
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        await session.execute(postgresql.insert(table).on_conflict_do_nothing(), list(rows))
    else:
        await session.execute(sqlite.insert(table).on_conflict_do_nothing(), list(rows))
    return len(rows)


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
