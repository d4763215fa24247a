"""Helpers the tests share: waiting for asynchronous outcomes, and a tap on every NATS message."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor, LocalSystem
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

T = TypeVar("T")
SERVICES = Path(__file__).resolve().parents[1] / "services"


@asynccontextmanager
async def migrated_sessions(
    database_for: DatabaseFor, service: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on ``service``'s own schema, migrated to head (PostgreSQL with CI=true): for
    tests of its repositories and use cases without the whole service."""
    url, schema = database_for(service)
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, SERVICES / service / "migrations", schema)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], timeout_s: float = ..., interval_s: float = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T], timeout_s: float = ..., interval_s: float = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    timeout_s: float = 15.0,
    interval_s: float = 0.02,
) -> Any:
    """Poll ``probe`` until it returns something truthy (processing is asynchronous).

    This waits for messages to flow, never for a schedule: schedules move on the ManualClock.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s (last: {result!r})")
        await asyncio.sleep(interval_s)


@dataclass(frozen=True)
class Tapped:
    subject: str
    data: bytes
    headers: dict[str, str]
    reply: str

    @property
    def is_jetstream_delivery(self) -> bool:
        """A stream delivering a stored message to a consumer (not a new publication)."""
        return self.reply.startswith("$JS.ACK.")

    def text(self) -> str:
        header_text = " ".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.subject} {header_text} {self.data.decode(errors='replace')}"


class NatsTap:
    """Subscribes to ``>`` on core NATS: sees every message any client publishes."""

    def __init__(self) -> None:
        self.messages: list[Tapped] = []
        self._client: Client | None = None

    async def start(self, url: str) -> None:
        self._client = await nats.connect(url)

        async def record(msg: Msg) -> None:
            self.messages.append(
                Tapped(msg.subject, msg.data, dict(msg.headers or {}), msg.reply or "")
            )

        await self._client.subscribe(">", cb=record)
        await self._client.flush()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.drain()

    def on(self, subject: str) -> list[Tapped]:
        """Publications on ``subject`` (deliveries of stored messages to consumers excluded)."""
        return [m for m in self.messages if m.subject == subject and not m.is_jetstream_delivery]


async def read_database(database_for: DatabaseFor, service: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of one service's database."""
    url, schema = database_for(service)
    engine = create_engine(url, schema)
    tables: dict[str, list[dict[str, Any]]] = {}
    try:
        async with engine.connect() as connection:
            metadata = MetaData()
            await connection.run_sync(lambda sync: metadata.reflect(sync, schema=schema))
            for table in metadata.sorted_tables:
                rows = (await connection.execute(select(table))).mappings().all()
                tables[table.name] = [dict(row) for row in rows]
    finally:
        await engine.dispose()
    return tables


def with_zones(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows read back by reflection (SQLite gives instants without their zone), made fit to
    insert again: every naive datetime is UTC."""
    return [
        {
            name: value.replace(tzinfo=UTC)
            if isinstance(value, datetime) and value.tzinfo is None
            else value
            for name, value in row.items()
        }
        for row in rows
    ]


async def weekly_answers(system: LocalSystem, community_id: str) -> list[dict[str, object]]:
    """Exact answers and distinct respondents per week, as insights stores them (exact figures
    exist only in its database and in tests: its API serves released, noisy ones)."""
    facts = (await read_database(system.database_for, "insights"))["response_facts"]
    weeks: dict[str, list[str]] = {}
    for row in facts:
        if row["community_id"] == community_id:
            weeks.setdefault(row["iso_week"], []).append(row["respondent_key"])
    return [
        {"iso_week": week, "responses": len(keys), "respondents": len(set(keys))}
        for week, keys in sorted(weeks.items())
    ]


async def weekly_signposting(system: LocalSystem, community_id: str) -> dict[str, int]:
    """People sent support per week, exact, as insights stores it."""
    facts = (await read_database(system.database_for, "insights"))["signposting_facts"]
    weeks: dict[str, int] = {}
    for row in facts:
        if row["community_id"] == community_id:
            weeks[row["iso_week"]] = weeks.get(row["iso_week"], 0) + 1
    return weeks
