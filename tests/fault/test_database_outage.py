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
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.scheduler.adapters.tables import communities, enrolments, rituals, schedule_cursors
from services.scheduler.domain.ritual import NudgePolicy, Ritual
from shared.contracts import RitualDueV1, RitualKind
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.streams import RITUALS, ensure_streams
from shared.subjects import RITUAL_DUE
from tests.conftest import on_postgres, postgres_url
from tests.fault.tcp_proxy import TcpProxy
from tests.support import eventually

RITUALS_COUNT = 300
MEMBERS = 10
BURST_SECONDS = 20  # due instants spread over this many whole seconds (15 rituals a second)
CUT_AFTER_S = 6.3  # into the burst (~1,000 events out): a tick or relay may be in flight
OUTAGE_S = 30.0
RECOVERY_DEADLINE_S = 25.0  # after the restore, for readiness and for the last event
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "scheduler" / "migrations"


def _member(n: int) -> str:
    return f"mbr_outagemember{n:05d}"


@pytest.fixture
async def postgres_schema() -> AsyncIterator[tuple[str, str]]:
    url = postgres_url()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except OSError as error:
        await engine.dispose()
        if on_postgres():
            raise  # CI promises PostgreSQL: its absence is a failure
        pytest.skip(
            f"a database outage needs PostgreSQL behind a proxy (SQLite is a file): {error}"
        )
    schema = f"t_{uuid.uuid4().hex[:10]}_outage"
    yield url, schema
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


def _ritual(n: int, local: str, community: str) -> Ritual:
    return Ritual(
        id=f"r{n:04d}",
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


async def _seed(
    url: str,
    schema: str | None,
    first_due: datetime,
    rituals_count: int = RITUALS_COUNT,
    community: str = "outage",
) -> set[str]:
    """Rituals due one after another over the burst, in real time (the service's clock).

    Returns the ids of the RitualDue events expected (also used by test_network_faults).
    """
    engine = create_engine(url, schema)
    due = {
        n: first_due + timedelta(seconds=n * BURST_SECONDS // rituals_count)
        for n in range(rituals_count)
    }
    local = {n: at.replace(tzinfo=None).isoformat(timespec="seconds") for n, at in due.items()}
    async with engine.begin() as connection:
        await connection.execute(
            communities.insert().values(
                id=community,
                name=community,
                timezone="UTC",
                region_code="X",
                locale="en",
                created_at=first_due,
            )
        )
        await connection.execute(
            enrolments.insert(),
            [
                {
                    "community_id": community,
                    "member_id": _member(m),
                    "timezone": "UTC",
                    "created_at": first_due,
                }
                for m in range(MEMBERS)
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
                    "created_at": first_due,
                    "updated_at": first_due,
                }
                for n in range(rituals_count)
            ],
        )
        await connection.execute(
            schedule_cursors.insert(),
            [
                {"ritual_id": f"r{n:04d}", "timezone": "UTC", "next_due_at": due[n]}
                for n in range(rituals_count)
            ],
        )
    await engine.dispose()
    return {
        _ritual(n, local[n], community).due_event(_member(m), "UTC", due[n], due[n], False).event_id
        for n in range(rituals_count)
        for m in range(MEMBERS)
    }


@dataclass(frozen=True)
class Probe:
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (refused, timed out)
    error: str = ""


async def _probe(http: aiohttp.ClientSession, url: str, timeout_s: float) -> Probe:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            await response.read()
            return Probe(started, loop.time(), response.status)
    except (aiohttp.ClientError, TimeoutError) as error:
        return Probe(started, loop.time(), None, type(error).__name__)


async def _poll(
    http: aiohttp.ClientSession, url: str, every_s: float, timeout_s: float, into: list[Probe]
) -> None:
    while True:
        into.append(await _probe(http, url, timeout_s))
        await asyncio.sleep(every_s)


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
    received: list[tuple[float, RitualDueV1]] = []
    publications = 0

    async def count_publication(_msg: object) -> None:
        nonlocal publications
        publications += 1

    await client.subscribe(RITUAL_DUE, cb=count_publication)  # every publish attempt
    consumer = await js.pull_subscribe(
        RITUAL_DUE,
        durable="outage-counter",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_ack_pending=20_000),
    )

    async def count_deliveries() -> None:
        while True:
            try:
                batch = await consumer.fetch(1000, timeout=0.2)
            except TimeoutError:
                continue
            for msg in batch:
                received.append((loop.time(), RitualDueV1.model_validate_json(msg.data)))
                await msg.ack()

    port = free_port()
    log_path = tmp_path / "scheduler.log"
    env = {
        **os.environ,
        "SCHEDULER_ENVIRONMENT": "dev",
        "SCHEDULER_NATS_URL": nats_server.url,
        "SCHEDULER_DATABASE_URL": through_proxy.render_as_string(hide_password=False),
        "SCHEDULER_DATABASE_SCHEMA": schema,
        "SCHEDULER_HTTP_HOST": "127.0.0.1",
        "SCHEDULER_HTTP_PORT": str(port),
        "SCHEDULER_TICK_BATCH_SIZE": "100",
        "SCHEDULER_TICK_INTERVAL_S": "0.5",
        "SCHEDULER_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    live: list[Probe] = []
    ready: list[Probe] = []
    tasks: list[asyncio.Task[None]] = []
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.scheduler", cwd=tmp_path, env=env, stderr=log
        )
    http = aiohttp.ClientSession()
    try:

        async def is_ready() -> bool:
            assert process.returncode is None, _tail(log_path)
            return (await _probe(http, f"{base}/health/ready", 5)).status == 200

        await eventually(is_ready, timeout_s=60, interval_s=0.05)
        tasks.append(asyncio.create_task(count_deliveries()))

        # The burst starts two whole seconds from now (due instants are whole seconds).
        first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        expected = await _seed(url, schema, first_due)
        burst_start = loop.time() + (first_due - datetime.now(UTC)).total_seconds()

        # Fault timing only: the cut falls CUT_AFTER_S into the burst.
        await asyncio.sleep(max(0.0, burst_start + CUT_AFTER_S - loop.time()))
        tasks.append(asyncio.create_task(_poll(http, f"{base}/health/live", 0.25, 2, live)))
        tasks.append(asyncio.create_task(_poll(http, f"{base}/health/ready", 0.5, 10, ready)))
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

        async def all_in() -> bool:
            assert process.returncode is None, _tail(log_path)
            return len(received) >= len(expected)

        with contextlib.suppress(AssertionError):  # reported below, with the counts
            await eventually(all_in, timeout_s=RECOVERY_DEADLINE_S, interval_s=0.05)
        await asyncio.sleep(1.0)  # a duplicate would arrive right behind the last event
        still_running = process.returncode is None
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await http.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()
        await proxy.close()
    info = await js.stream_info(RITUALS.name)
    await client.close()

    ids = [event.event_id for _, event in received]
    last_at = max(at for at, _ in received) if received else restored_at
    outage_live = [p for p in live if cut_at <= p.started and p.ended <= restored_at]
    # A readiness probe that both started and ended while the database was gone.
    outage_ready = [p for p in ready if cut_at <= p.started and p.ended <= restored_at]
    print(
        f"\nDatabase outage fault: outage_s={restored_at - cut_at:.1f} "
        f"recovery_s={last_at - restored_at:.1f} ready_again_after_s={ready_after_s:.1f} "
        f"events={len(expected)} received={len(ids)} unique={len(set(ids))} "
        f"before_cut={before_cut} during_outage={during_outage} "
        f"late={sum(1 for _, e in received if e.late)} publishes={publications} "
        f"duplicates_dropped_by_jetstream={publications - info.state.messages} "
        f"stream_messages={info.state.messages} connections_reset={reset} "
        f"connections_held={proxy.stats.held} live_probes={len(outage_live)} "
        f"live_not_200={sum(1 for p in live if p.status != 200)} "
        f"ready_probes={len(outage_ready)} "
        f"ready_200_during_outage={sum(1 for p in outage_ready if p.status == 200)}"
    )
    assert still_running, _tail(log_path)
    assert set(ids) == expected, (  # 0 missed
        f"missed {len(expected - set(ids))}, unexpected {len(set(ids) - expected)}\n"
        + _tail(log_path)
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


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
