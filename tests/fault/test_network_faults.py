"""The network between the scheduler and NATS degrades while it emits a burst of due occurrences.

The scheduler runs as its own process (real clock) and reaches nats-server only through a TCP
proxy (tests/fault/tcp_proxy.py); the counting consumer connects to the server directly. While
2,000 RitualDue events fall due over 20 s, the proxy adds 500 ms of latency each way, then
resets the connection three times, then blackholes it for 10 s (the connection it held stays
dead afterwards, as a flow a firewall forgot does). Expected: every occurrence reaches JetStream
exactly once, ``/health/live`` answers 200 throughout, and ``/health/ready`` says not ready
while NATS is unreachable.

Runs on SQLite or PostgreSQL alike (only the NATS side is faulted).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
import nats

from services.demo.system import DatabaseFor
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.streams import RITUALS, ensure_streams
from tests.fault.support import (
    MIGRATIONS,
    DueCounter,
    Probe,
    cancel_all,
    poll,
    scheduler_env,
    seed_due_occurrences,
    start_scheduler,
    stop,
    tail,
    wait_until_ready,
)
from tests.fault.tcp_proxy import TcpProxy
from tests.fault.test_database_outage import burst
from tests.support import eventually

LATENCY_S = 0.5
LATENCY_FOR_S = 5.0
RESETS = 3
BLACKHOLE_S = 10.0
DEADLINE_S = 45.0  # after the blackhole, for the last event


async def test_scheduler_loses_nothing_when_the_network_to_nats_fails(
    nats_server: EmbeddedNatsServer, database_for: DatabaseFor, tmp_path: Path
) -> None:
    url, schema = database_for("scheduler")
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    await engine.dispose()

    nats_address = urlparse(nats_server.url)
    proxy = TcpProxy(nats_address.hostname or "127.0.0.1", nats_address.port or 4222)
    await proxy.start()

    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await ensure_streams(js)
    loop = asyncio.get_running_loop()
    counter = DueCounter()
    await counter.start(client, "network-counter")
    received = counter.received

    port = free_port()
    log_path = tmp_path / "scheduler.log"
    env = scheduler_env(f"nats://127.0.0.1:{proxy.port}", url, schema, port, batch_size=100)
    base = f"http://127.0.0.1:{port}"
    live: list[Probe] = []
    ready: list[Probe] = []
    tasks: list[asyncio.Task[None]] = []
    process = await start_scheduler(env, tmp_path, log_path)
    http = aiohttp.ClientSession()
    try:
        await wait_until_ready(http, base, process, log_path)
        tasks.append(asyncio.create_task(counter.run()))
        tasks.append(asyncio.create_task(poll(http, f"{base}/health/live", 0.25, 2, live)))
        tasks.append(asyncio.create_task(poll(http, f"{base}/health/ready", 0.5, 10, ready)))

        first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        expected = await seed_due_occurrences(url, schema, burst(first_due, 200), 10, "network")
        burst_start = loop.time() + (first_due - datetime.now(UTC)).total_seconds()

        # Fault timing only (real-time sleeps pick when faults happen, never wait for a tick).
        await asyncio.sleep(max(0.0, burst_start + 1.0 - loop.time()))
        proxy.latency_s = LATENCY_S
        await asyncio.sleep(LATENCY_FOR_S)
        proxy.latency_s = 0.0
        resets = 0

        async def reconnected(since: int) -> None:
            """Wait for the scheduler's next connection, so the next fault hits it in use."""
            await eventually(lambda: proxy.stats.forwarded > since, timeout_s=15)
            await asyncio.sleep(0.5)

        for _ in range(RESETS):
            forwarded = proxy.stats.forwarded
            resets += proxy.reset_all()
            await reconnected(forwarded)
        proxy.blackhole()  # the connection in use goes silent, without a FIN or a RST
        blackholed_at = loop.time()
        await asyncio.sleep(BLACKHOLE_S)
        proxy.pass_through()
        restored_at = loop.time()

        still_running = await counter.wait_for_all(
            len(expected), process, log_path, timeout_s=DEADLINE_S
        )
    finally:
        await cancel_all(tasks)
        await http.close()
        await stop(process)
        await proxy.close()
    info = await js.stream_info(RITUALS.name)
    await client.close()

    ids = counter.ids
    last_at = max(at for at, _ in received) if received else restored_at
    blackhole_ready = [
        p for p in ready if blackholed_at + 1 <= p.started and p.ended <= restored_at
    ]
    print(
        f"\nNetwork fault (scheduler to NATS): latency_s={LATENCY_S} for {LATENCY_FOR_S:.0f}s, "
        f"resets={RESETS} (connections {resets}), blackhole_s={BLACKHOLE_S:.0f} "
        f"recovery_s={last_at - restored_at:.1f} events={len(expected)} received={len(ids)} "
        f"unique={len(set(ids))} stream_messages={info.state.messages} "
        f"live_probes={len(live)} live_not_200={sum(1 for p in live if p.status != 200)} "
        f"ready_probes_in_blackhole={len(blackhole_ready)} "
        f"ready_200_in_blackhole={sum(1 for p in blackhole_ready if p.status == 200)}"
    )
    assert still_running, tail(log_path)
    assert set(ids) == expected, (  # 0 missed
        f"missed {len(expected - set(ids))}, unexpected {len(set(ids) - expected)}\n"
        + tail(log_path)
    )
    assert len(ids) == len(set(ids))  # 0 duplicates at the consumer
    assert info.state.messages == len(expected)
    assert all(p.status == 200 for p in live), [p for p in live if p.status != 200]
    assert len(live) >= 40
    assert blackhole_ready, "no readiness probe ran while NATS was blackholed"
    assert all(p.status == 503 for p in blackhole_ready), blackhole_ready
