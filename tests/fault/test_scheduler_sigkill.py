"""SIGKILL the scheduler process at random points while it emits 10,000 due occurrences,
restart it each time, and count at a JetStream consumer: 0 missed, 0 duplicates.

Figures (kills, publishes JetStream dropped as duplicates, lateness) are printed for the notes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nats
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.demo.system import DatabaseFor
from services.scheduler.adapters.tables import (
    communities,
    enrolments,
    rituals,
    schedule_cursors,
)
from services.scheduler.domain.ritual import NudgePolicy, Ritual
from shared.contracts import RitualDueV1, RitualKind
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.streams import RITUALS, ensure_streams
from shared.subjects import RITUAL_DUE
from tests.support import eventually

RITUALS_COUNT = 1000
MEMBERS = 10
KILLS = 20
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "scheduler" / "migrations"


def _member(n: int) -> str:
    return f"mbr_faultmember{n:06d}"


async def _seed(url: str, schema: str | None, due_at: datetime) -> set[str]:
    """Rituals whose occurrence is due now (in real time: the subprocess has a real clock)."""
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    local = due_at.replace(tzinfo=None).isoformat(timespec="seconds")
    async with engine.begin() as connection:
        await connection.execute(
            communities.insert().values(
                id="fault",
                name="fault",
                timezone="UTC",
                region_code="X",
                locale="en",
                created_at=due_at,
            )
        )
        await connection.execute(
            rituals.insert(),
            [
                {
                    "id": f"r{n:04d}",
                    "community_id": "fault",
                    "kind": "check_in",
                    "title": "t",
                    "rrule": "FREQ=DAILY",
                    "dtstart_local": local,
                    "exdates": "",
                    "pinned_to_community_zone": False,
                    "template_key": "check_in",
                    "response_window_s": 3600,
                    "misfire_grace_s": 3600,
                    "nudge_after_s": None,
                    "max_nudges": 0,
                    "version": 1,
                    "active": True,
                    "created_at": due_at,
                    "updated_at": due_at,
                }
                for n in range(RITUALS_COUNT)
            ],
        )
        await connection.execute(
            enrolments.insert(),
            [
                {
                    "community_id": "fault",
                    "member_id": _member(m),
                    "timezone": "UTC",
                    "created_at": due_at,
                }
                for m in range(MEMBERS)
            ],
        )
        await connection.execute(
            schedule_cursors.insert(),
            [
                {"ritual_id": f"r{n:04d}", "timezone": "UTC", "next_due_at": due_at}
                for n in range(RITUALS_COUNT)
            ],
        )
    await engine.dispose()
    expected = set()
    for n in range(RITUALS_COUNT):
        ritual = Ritual(
            id=f"r{n:04d}",
            community_id="fault",
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
        for m in range(MEMBERS):
            expected.add(ritual.due_event(_member(m), "UTC", due_at, due_at, False).event_id)
    return expected


async def test_sigkill_during_a_burst_loses_and_repeats_nothing(
    nats_server: EmbeddedNatsServer, database_for: DatabaseFor, tmp_path: Path
) -> None:
    url, schema = database_for("scheduler")
    due_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    expected = await _seed(url, schema, due_at)

    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await ensure_streams(js)
    received: list[RitualDueV1] = []
    publications = 0

    async def count_publication(_msg: object) -> None:
        nonlocal publications
        publications += 1

    await client.subscribe(RITUAL_DUE, cb=count_publication)  # every publish attempt
    consumer = await js.pull_subscribe(
        RITUAL_DUE,
        durable="fault-counter",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_ack_pending=20_000),
    )

    async def drain_consumer() -> int:
        try:
            batch = await consumer.fetch(1000, timeout=0.2)
        except TimeoutError:
            return len(received)
        for msg in batch:
            received.append(RitualDueV1.model_validate_json(msg.data))
            await msg.ack()
        return len(received)

    port = free_port()
    env = {
        **os.environ,
        "SCHEDULER_ENVIRONMENT": "dev",
        "SCHEDULER_NATS_URL": nats_server.url,
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_HTTP_HOST": "127.0.0.1",
        "SCHEDULER_HTTP_PORT": str(port),
        "SCHEDULER_TICK_BATCH_SIZE": "50",
        "SCHEDULER_TICK_INTERVAL_S": "0.5",
        "SCHEDULER_LOG_LEVEL": "WARNING",
    }
    if schema:
        env["SCHEDULER_DATABASE_SCHEMA"] = schema
    rng = random.Random(20261125)
    kills = 0

    async def start() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.scheduler",
            cwd=tmp_path,
            env=env,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health/live") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return process.returncode is not None

            await eventually(up, timeout_s=60, interval_s=0.01)
        return process

    started = asyncio.get_running_loop().time()
    while kills < KILLS and await drain_consumer() < len(expected):
        process = await start()
        # A random point in the burst: the tick starts as the service becomes ready.
        await asyncio.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        await process.wait()
        kills += 1
    process = await start()
    try:
        await eventually(lambda: drain_consumer(), timeout_s=120)
        await eventually(
            lambda: _all_in(drain_consumer, len(expected)), timeout_s=120, interval_s=0.05
        )
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    catch_up_s = asyncio.get_running_loop().time() - started
    await asyncio.sleep(0)
    await drain_consumer()
    info = await js.stream_info(RITUALS.name)
    await client.close()

    ids = [event.event_id for event in received]
    lateness = sorted((e.occurred_at - e.occurrence_at).total_seconds() for e in received)
    print(
        f"\nSIGKILL fault: kills={kills} events={len(expected)} publishes={publications} "
        f"duplicates_dropped_by_jetstream={publications - len(expected)} "
        f"stream_messages={info.state.messages} p99_lateness_s="
        f"{lateness[int(len(lateness) * 0.99) - 1]:.1f} median_lateness_s="
        f"{statistics.median(lateness):.1f} catch_up_s={catch_up_s:.1f}"
    )
    assert kills >= 1
    assert set(ids) == expected  # 0 missed
    assert len(ids) == len(set(ids))  # 0 duplicates at the consumer
    assert info.state.messages == len(expected)


async def _all_in(drain: object, target: int) -> bool:
    assert callable(drain)
    return bool(await drain() >= target)
