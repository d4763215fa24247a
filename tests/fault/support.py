"""What the scheduler fault tests share: due occurrences seeded in real time, the scheduler as a
subprocess, a JetStream consumer that counts what arrives, and health probes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.scheduler.adapters.tables import communities, enrolments, rituals, schedule_cursors
from services.scheduler.domain.ritual import NudgePolicy, Ritual
from shared.contracts import RitualDueV1, RitualKind
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from shared.subjects import RITUAL_DUE
from tests.support import eventually

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "scheduler" / "migrations"


def member_id(prefix: str, n: int) -> str:
    return f"mbr_{prefix}member{n:06d}"


def daily_ritual(ritual_id: str, local: str, community: str) -> Ritual:
    """A daily check-in first due at ``local`` (UTC wall time), as the fault tests seed it."""
    return Ritual(
        id=ritual_id,
        community_id=community,
        community_timezone="UTC",
        kind=RitualKind.check_in,
        rrule="FREQ=DAILY",
        dtstart_local=local,
        exdates=(),
        pinned_to_community_zone=False,
        template_key="check_in",
        response_window_s=3600,
        misfire_grace_s=3600,
        nudges=NudgePolicy(None, 0),
        version=1,
        active=True,
    )


async def seed_due_occurrences(
    url: str,
    schema: str | None,
    due_at: Sequence[datetime],
    members: int,
    community: str,
) -> set[str]:
    """Daily rituals, ritual ``n`` first due at ``due_at[n]`` (real time: the subprocess has a
    real clock), each for ``members`` members in UTC. Returns the RitualDue ids expected."""
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    local = [at.replace(tzinfo=None).isoformat(timespec="seconds") for at in due_at]
    first = min(due_at)
    member_ids = [member_id(community, m) for m in range(members)]
    async with engine.begin() as connection:
        await connection.execute(
            communities.insert().values(
                id=community,
                name=community,
                timezone="UTC",
                region_code="X",
                locale="en",
                created_at=first,
            )
        )
        await connection.execute(
            enrolments.insert(),
            [
                {"community_id": community, "member_id": m, "timezone": "UTC", "created_at": first}
                for m in member_ids
            ],
        )
        await connection.execute(
            rituals.insert(),
            [
                {
                    "id": f"r{n:04d}",
                    "community_id": community,
                    "kind": "check_in",
                    "title": "t",
                    "rrule": "FREQ=DAILY",
                    "dtstart_local": local[n],
                    "exdates": "",
                    "pinned_to_community_zone": False,
                    "template_key": "check_in",
                    "response_window_s": 3600,
                    "misfire_grace_s": 3600,
                    "nudge_after_s": None,
                    "max_nudges": 0,
                    "version": 1,
                    "active": True,
                    "created_at": first,
                    "updated_at": first,
                }
                for n in range(len(due_at))
            ],
        )
        await connection.execute(
            schedule_cursors.insert(),
            [
                {"ritual_id": f"r{n:04d}", "timezone": "UTC", "next_due_at": at}
                for n, at in enumerate(due_at)
            ],
        )
    await engine.dispose()
    return {
        daily_ritual(f"r{n:04d}", local[n], community).due_event(m, "UTC", at, at, False).event_id
        for n, at in enumerate(due_at)
        for m in member_ids
    }


def scheduler_env(
    nats_url: str, database_url: str, schema: str | None, http_port: int, batch_size: int
) -> dict[str, str]:
    env = {
        **os.environ,
        "SCHEDULER_ENVIRONMENT": "dev",
        "SCHEDULER_NATS_URL": nats_url,
        "SCHEDULER_DATABASE_URL": database_url,
        "SCHEDULER_HTTP_HOST": "127.0.0.1",
        "SCHEDULER_HTTP_PORT": str(http_port),
        "SCHEDULER_TICK_BATCH_SIZE": str(batch_size),
        "SCHEDULER_TICK_INTERVAL_S": "0.5",
        "SCHEDULER_LOG_LEVEL": "WARNING",
    }
    if schema:
        env["SCHEDULER_DATABASE_SCHEMA"] = schema
    return env


async def start_scheduler(
    env: dict[str, str], cwd: Path, log_path: Path | None = None
) -> asyncio.subprocess.Process:
    if log_path is None:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.scheduler",
            cwd=cwd,
            env=env,
            stderr=asyncio.subprocess.DEVNULL,
        )
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.scheduler", cwd=cwd, env=env, stderr=log
        )


async def wait_until_ready(
    http: aiohttp.ClientSession, base: str, process: asyncio.subprocess.Process, log_path: Path
) -> None:
    """Until the service's /health/ready answers 200; fails with its log if the process died."""

    async def is_ready() -> bool:
        assert process.returncode is None, tail(log_path)
        return (await probe(http, f"{base}/health/ready", 5)).status == 200

    await eventually(is_ready, timeout_s=60, interval_s=0.05)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 20 s."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=20)
    except TimeoutError:
        process.kill()
        await process.wait()


@dataclass
class DueCounter:
    """A durable JetStream consumer on the due subject: what arrived, and when (loop time)."""

    received: list[tuple[float, RitualDueV1]] = field(default_factory=list)
    publications: int = 0  # every publish attempt, before JetStream drops duplicates

    async def start(self, client: Client, durable: str) -> None:
        async def count_publication(_msg: object) -> None:
            self.publications += 1

        await client.subscribe(RITUAL_DUE, cb=count_publication)
        self._consumer = await client.jetstream().pull_subscribe(
            RITUAL_DUE,
            durable=durable,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_ack_pending=20_000),
        )

    async def drain(self) -> int:
        """Fetch and acknowledge what is there; returns how many have arrived in all."""
        try:
            batch = await self._consumer.fetch(1000, timeout=0.2)
        except TimeoutError:
            return len(self.received)
        now = asyncio.get_running_loop().time()
        for msg in batch:
            self.received.append((now, RitualDueV1.model_validate_json(msg.data)))
            await msg.ack()
        return len(self.received)

    async def run(self) -> None:
        while True:
            await self.drain()

    async def wait_for_all(
        self, expected: int, process: asyncio.subprocess.Process, log_path: Path, timeout_s: float
    ) -> bool:
        """Wait until ``expected`` events arrived (or the time is up: the caller reports the
        counts), then a moment more for any duplicate; returns whether the process survived."""

        async def all_in() -> bool:
            assert process.returncode is None, tail(log_path)
            return len(self.received) >= expected

        with contextlib.suppress(AssertionError):
            await eventually(all_in, timeout_s=timeout_s, interval_s=0.05)
        await asyncio.sleep(1.0)  # a duplicate would arrive right behind the last event
        return process.returncode is None

    @property
    def ids(self) -> list[str]:
        return [event.event_id for _, event in self.received]


@dataclass(frozen=True)
class Probe:
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (refused, timed out)
    error: str = ""


async def probe(http: aiohttp.ClientSession, url: str, timeout_s: float) -> Probe:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            await response.read()
            return Probe(started, loop.time(), response.status)
    except (aiohttp.ClientError, TimeoutError) as error:
        return Probe(started, loop.time(), None, type(error).__name__)


async def poll(
    http: aiohttp.ClientSession, url: str, every_s: float, timeout_s: float, into: list[Probe]
) -> None:
    while True:
        into.append(await probe(http, url, timeout_s))
        await asyncio.sleep(every_s)


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
