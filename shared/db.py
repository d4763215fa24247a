"""Database plumbing every service shares: engines, an aware-UTC column type, idempotent inserts.

Each service owns its own database (or PostgreSQL schema); nothing here knows their tables.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Insert,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    column,
    event,
    exc,
    exists,
    func,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
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


# A pooled connection is pinged before use only if it sat idle this long (see
# ``_ping_connections_idle_for``).
PING_AFTER_IDLE_S = 1.0
_RETURNED_AT = "rituals_returned_at"


def create_engine(
    url: str,
    schema: str | None = None,
    echo: bool = False,
    connect_timeout_s: float = 5.0,
    command_timeout_s: float | None = None,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
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
    engine = _create_async_engine(url, echo=echo, pool_size=10, connect_args=connect_args)
    _ping_connections_idle_for(engine, ping_after_idle_s)
    return engine


def _ping_connections_idle_for(engine: AsyncEngine, idle_s: float) -> None:
    """A connection the network or the server dropped while it sat in the pool is replaced at
    checkout instead of failing the caller's first statement, as ``pool_pre_ping`` does, but
    only if it sat there ``idle_s`` or longer: on asyncpg a ping is three round trips (BEGIN,
    the ping, ROLLBACK), and pinging at every checkout took 6% of the notifier's CPU sending
    e-mail (py-spy, bench/notifier_dispatch.py). A connection used less than ``idle_s`` ago
    was working then; if it broke since, the statement fails, SQLAlchemy discards the whole
    pool's connections (a disconnect invalidates the pool), and the caller's retry gets a new
    one. A connection just opened is not pinged. SQLAlchemy's recipe for a custom ping."""
    dialect = engine.sync_engine.dialect
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool replaces the connection and checks out again (up to three times).
            raise exc.DisconnectionError(f"ping failed: {type(error).__name__}") from error


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> int:
    """Insert rows, silently skipping those whose key exists. Returns how many were new.

    The rows go as one executemany of one cached statement, never as a statement with a
    VALUES clause of their own: compiling that (and binding tens of thousands of values,
    beyond the 32,767 asyncpg and SQLite accept) made a tick of 20,000 due events spend
    seconds in SQLAlchemy. PostgreSQL batches them into pages of multi-row INSERTs
    ("insertmanyvalues") and counts the new rows by what RETURNING gives back; SQLite runs the
    prepared statement per row and sums the rows it changed.
    """
    if not rows:
        return 0
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    parameters = list(rows)
    if dialect == "postgresql":
        key = list(table.primary_key.columns) or list(table.columns)[:1]
        returning = postgresql.insert(table).on_conflict_do_nothing().returning(*key)
        return len((await session.execute(returning, parameters)).all())
    statement = sqlite.insert(table).on_conflict_do_nothing()
    result = await session.execute(statement, parameters)
    return int(getattr(result, "rowcount", 0) or 0)


async def insert_many_ignoring_duplicates(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    unless_listed_in: Column[Any] | None = None,
) -> int:
    """Insert many rows, skipping those whose key exists and, with ``unless_listed_in``, those
    whose value of the column of that name is listed in that column. Returns how many were new.

    One statement with one parameter, the rows as JSON, that the database unpacks itself
    (SQLite's ``json_each``, PostgreSQL's ``jsonb_to_recordset``): compiled once, sent once,
    and the driver binds one value instead of thousands. With SQLite that matters twice: its
    driver thread takes the GIL back for every bound row, and while the event loop is busy
    each take can wait out a whole switch interval (ingest ran at a quarter of its speed).
    The columns must be JSON-typed: text, numbers, booleans, nulls.
    """
    if not rows:
        return 0
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = _insert_from_json(table, dialect, unless_listed_in)
    result = await session.execute(statement, {"rows": json.dumps(list(rows))})
    return int(getattr(result, "rowcount", 0) or 0)


@functools.lru_cache(maxsize=64)
def _insert_from_json(table: Table, dialect: str, unless_listed_in: Column[Any] | None) -> Insert:
    names = [c.name for c in table.columns]
    incoming: list[ColumnElement[Any]]
    if dialect == "postgresql":
        recordset = (
            func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
            .table_valued(*(column(c.name, c.type) for c in table.columns))
            .render_derived(name="incoming", with_types=True)
        )
        incoming = [recordset.c[name] for name in names]
    else:
        each = func.json_each(bindparam("rows", type_=Text)).table_valued("value")
        incoming = [func.json_extract(each.c.value, f"$.{name}") for name in names]
    chosen = select(*incoming)
    if unless_listed_in is not None:
        key = incoming[names.index(unless_listed_in.name)]
        chosen = chosen.where(~exists().where(unless_listed_in == key))
    else:
        chosen = chosen.where(true())  # SQLite parses "SELECT ... ON CONFLICT" only after a WHERE
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).from_select(names, chosen).on_conflict_do_nothing()


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
