"""PostgreSQL becomes unreachable in the middle of a burst of due occurrences.

The scheduler runs as its own process (``python -m services.scheduler``, real clock) and reaches
PostgreSQL only through a TCP proxy (tests/fault/tcp_proxy.py). While 3,000 RitualDue events
fall due over 20 s of real time, the proxy resets every database connection and then blackholes
the database (connections accepted, nothing forwarded) for 30 s, then lets traffic through
again. Expected: the scheduler pauses and catches up, every occurrence reaches a JetStream
consumer exactly once (0 missed, 0 duplicates), ``/health/live`` answers 200 throughout,
``/health/ready`` says not ready while the database is gone and ready again after.

Needs PostgreSQL: on SQLite the database is a file, so there is no connection to cut. Skipped
without it, except with CI=true, where its absence is a failure.

The outage is the plan's 30 s: with ~5 s of start-up, 6 s of burst before the cut and a few
seconds of catch-up, the test takes ~50 s.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nats
from sqlalchemy.engine import make_url

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
from tests.support import eventually

RITUALS_COUNT = 300
MEMBERS = 10
BURST_SECONDS = 20  # due instants spread over this many whole seconds (15 rituals a second)
CUT_AFTER_S = 6.3  # into the burst (~1,000 events out): a tick or relay may be in flight
OUTAGE_S = 30.0
RECOVERY_DEADLINE_S = 25.0  # after the restore, for readiness and for the last event


def burst(first_due: datetime, rituals_count: int) -> list[datetime]:
    """Due instants spread over BURST_SECONDS whole seconds from ``first_due``."""
    return [
        first_due + timedelta(seconds=n * BURST_SECONDS // rituals_count)
        for n in range(rituals_count)
    ]


async def test_scheduler_pauses_and_catches_up_when_postgres_is_unreachable(
    postgres_schema: tuple[str, str], nats_server: EmbeddedNatsServer, tmp_path: Path
) -> None:
    url, schema = postgres_schema
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    await engine.dispose()

    target = make_url(url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    through_proxy = target.set(host="127.0.0.1", port=proxy.port)

    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await ensure_streams(js)
    loop = asyncio.get_running_loop()
    counter = DueCounter()
    await counter.start(client, "outage-counter")
    received = counter.received

    port = free_port()
    log_path = tmp_path / "scheduler.log"
    database_url = through_proxy.render_as_string(hide_password=False)
    env = scheduler_env(nats_server.url, database_url, schema, port, batch_size=100)
    base = f"http://127.0.0.1:{port}"
    live: list[Probe] = []
    ready: list[Probe] = []
    tasks: list[asyncio.Task[None]] = []
    process = await start_scheduler(env, tmp_path, log_path)
    http = aiohttp.ClientSession()
    try:
        await wait_until_ready(http, base, process, log_path)
        tasks.append(asyncio.create_task(counter.run()))

        # The burst starts two whole seconds from now (due instants are whole seconds).
        first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        expected = await seed_due_occurrences(
            url, schema, burst(first_due, RITUALS_COUNT), MEMBERS, "outage"
        )
        burst_start = loop.time() + (first_due - datetime.now(UTC)).total_seconds()

        # Fault timing only: the cut falls CUT_AFTER_S into the burst.
        await asyncio.sleep(max(0.0, burst_start + CUT_AFTER_S - loop.time()))
        tasks.append(asyncio.create_task(poll(http, f"{base}/health/live", 0.25, 2, live)))
        tasks.append(asyncio.create_task(poll(http, f"{base}/health/ready", 0.5, 10, ready)))
        proxy.blackhole()  # first, so reconnections made after the reset are held too
        reset = proxy.reset_all()
        cut_at = loop.time()
        before_cut = len(received)
        await asyncio.sleep(OUTAGE_S)
        proxy.pass_through()
        restored_at = loop.time()
        during_outage = len(received) - before_cut

        async def ready_again() -> bool:
            return bool(ready) and ready[-1].started > restored_at and ready[-1].status == 200

        await eventually(ready_again, timeout_s=RECOVERY_DEADLINE_S, interval_s=0.1)
        ready_after_s = ready[-1].ended - restored_at
        for task in tasks[1:]:
            task.cancel()

        still_running = await counter.wait_for_all(
            len(expected), process, log_path, timeout_s=RECOVERY_DEADLINE_S
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
    outage_live = [p for p in live if cut_at <= p.started and p.ended <= restored_at]
    # A readiness probe that both started and ended while the database was gone.
    outage_ready = [p for p in ready if cut_at <= p.started and p.ended <= restored_at]
    print(
        f"\nDatabase outage fault: outage_s={restored_at - cut_at:.1f} "
        f"recovery_s={last_at - restored_at:.1f} ready_again_after_s={ready_after_s:.1f} "
        f"events={len(expected)} received={len(ids)} unique={len(set(ids))} "
        f"before_cut={before_cut} during_outage={during_outage} "
        f"late={sum(1 for _, e in received if e.late)} publishes={counter.publications} "
        f"duplicates_dropped_by_jetstream={counter.publications - info.state.messages} "
        f"stream_messages={info.state.messages} connections_reset={reset} "
        f"connections_held={proxy.stats.held} live_probes={len(outage_live)} "
        f"live_not_200={sum(1 for p in live if p.status != 200)} "
        f"ready_probes={len(outage_ready)} "
        f"ready_200_during_outage={sum(1 for p in outage_ready if p.status == 200)}"
    )
    assert still_running, tail(log_path)
    assert set(ids) == expected, (  # 0 missed
        f"missed {len(expected - set(ids))}, unexpected {len(set(ids) - expected)}\n"
        + tail(log_path)
    )
    # The cut fell in the middle of the burst: events before it, and after the restore.
    assert before_cut > 0
    assert len(ids) - before_cut - during_outage > 0
    assert len(ids) == len(set(ids))  # 0 duplicates at the consumer
    assert info.state.messages == len(expected)
    assert last_at - restored_at < RECOVERY_DEADLINE_S
    # Liveness answered 200 all along (every probe, outage or not), often enough to mean it.
    assert all(p.status == 200 for p in live), [p for p in live if p.status != 200]
    assert len(outage_live) >= OUTAGE_S / 0.25 / 3
    # Readiness said "not ready" for as long as the database was gone.
    assert len(outage_ready) >= 3
    assert all(p.status == 503 for p in outage_ready), outage_ready
