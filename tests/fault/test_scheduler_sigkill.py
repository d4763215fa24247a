"""SIGKILL the scheduler process at random points while it emits 10,000 due occurrences,
restart it each time, and count at a JetStream consumer: 0 missed, 0 duplicates.

Figures (kills, publishes JetStream dropped as duplicates, lateness) are printed for the notes.
"""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nats
import pytest

from services.demo.system import DatabaseFor
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.streams import RITUALS, ensure_streams
from tests.fault.support import (
    DueCounter,
    probe,
    scheduler_env,
    seed_due_occurrences,
    start_scheduler,
    stop,
)
from tests.support import eventually

RITUALS_COUNT = 1000
MEMBERS = 10
KILLS = 20


# A hang guard, not a speed limit: 13 restarts and the catch-up of 10,000 events took 85 s of
# catch-up alone in CI, near the suite's 120 s.
@pytest.mark.timeout(300)
async def test_sigkill_during_a_burst_loses_and_repeats_nothing(
    nats_server: EmbeddedNatsServer, database_for: DatabaseFor, tmp_path: Path
) -> None:
    url, schema = database_for("scheduler")
    due_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    expected = await seed_due_occurrences(url, schema, [due_at] * RITUALS_COUNT, MEMBERS, "fault")

    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await ensure_streams(js)
    counter = DueCounter()
    await counter.start(client, "fault-counter")

    port = free_port()
    env = scheduler_env(nats_server.url, url, schema, port, batch_size=50)
    rng = random.Random(20261125)
    kills = 0

    async def start() -> asyncio.subprocess.Process:
        process = await start_scheduler(env, tmp_path)
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                answer = await probe(http, f"http://127.0.0.1:{port}/health/live", 5)
                return answer.status == 200 or process.returncode is not None

            await eventually(up, timeout_s=60, interval_s=0.01)
        return process

    started = asyncio.get_running_loop().time()
    while kills < KILLS and await counter.drain() < len(expected):
        process = await start()
        # A random point in the burst: the tick starts as the service becomes ready.
        await asyncio.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        await process.wait()
        kills += 1
    process = await start()
    try:
        await eventually(counter.drain, timeout_s=120)

        async def all_in() -> bool:
            return await counter.drain() >= len(expected)

        await eventually(all_in, timeout_s=120, interval_s=0.05)
    finally:
        await stop(process)
    catch_up_s = asyncio.get_running_loop().time() - started
    await asyncio.sleep(0)
    await counter.drain()
    info = await js.stream_info(RITUALS.name)
    await client.close()

    ids = counter.ids
    lateness = sorted(
        (e.occurred_at - e.occurrence_at).total_seconds() for _, e in counter.received
    )
    print(
        f"\nSIGKILL fault: kills={kills} events={len(expected)} publishes={counter.publications} "
        f"duplicates_dropped_by_jetstream={counter.publications - len(expected)} "
        f"stream_messages={info.state.messages} p99_lateness_s="
        f"{lateness[int(len(lateness) * 0.99) - 1]:.1f} median_lateness_s="
        f"{statistics.median(lateness):.1f} catch_up_s={catch_up_s:.1f}"
    )
    assert kills >= 1
    assert set(ids) == expected  # 0 missed
    assert len(ids) == len(set(ids))  # 0 duplicates at the consumer
    assert info.state.messages == len(expected)
