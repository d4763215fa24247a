"""Issue 11's scheduler comparisons: one burst, our scheduler against what else would send it.

The burst (``scheduler_burst``): 1,000 weekly rituals, one per community of 100 members, all due
at one instant: 100,000 RitualDue events (5,000 with ``--quick``). Our scheduler runs as
production runs it, ``wire_scheduler`` in a process of its own per replica
(``scheduler_replica``), on PostgreSQL (or SQLite) and the embedded nats-server, except that its
clock is a ``ManualClock`` the bench moves to the due instant. Its tables are seeded once per
bench; each repetition moves the cursors back, empties the outbox, starts a fresh nats-server
and a fresh RITUALS stream for each side, so every side publishes into an empty stream with the
same duplicate window. A replica whose tick fails (the ticker logs it and would retry at its
next interval, which a manual clock never reaches) ends the scenario at once with that failure.
``--members`` changes the communities' size (and so how many events one tick batch stages).

``scheduler_emit`` (PostgreSQL, and ``@sqlite``): events/s from the due instant (the clock
moved) to the last event stored in the stream (the server's timestamp), with every
``Nats-Msg-Id`` set, the stream holding exactly N messages, every cursor moved past the instant
and the outbox empty; sampled bodies are checked byte for byte against what the bare publisher
sent. Baseline, same repetition, same nats-server: a bare nats-py JetStream publisher sending
the same N subjects, bodies and ``Nats-Msg-Id`` headers to a fresh stream, ``asyncio.gather``-ed
in chunks of ``PUBLISH_CHUNK``. Goal: ratio ≥ 0.6 (the scheduler's bookkeeping, claim, stage,
advance and relay, costs at most 40 % of what the broker allows).

``scheduler_vs_apscheduler`` (PostgreSQL): the burst, ours against APScheduler 3 (one
date-trigger job per event in its SQLAlchemy job store on the same PostgreSQL, each publishing
the same event with nats-py, ``misfire_grace_time=None``; ``apscheduler_replica``), both counted
at the sink: events/s to the last event stored. Value ours, baseline APScheduler's. Goal ≥ 1.2.
Both sides get ``COMPARED_BURST`` events (5,000; 2,000 with ``--quick``): APScheduler needs
2.5 to 20 minutes a run for 100,000 here. Its jobs are written once per bench into a template
table and copied into its job store before each repetition (setup, not burst).

``replicas_duplicates`` (PostgreSQL): the ``COMPARED_BURST`` with two replicas side by side on
one database (two processes, each with its own clock, both moved to the due instant), counted
by a plain NATS subscriber on the events' subjects, which sees every publish before the
stream's duplicate window drops a repeated ``Nats-Msg-Id``: value = messages published minus
distinct event ids. Baseline: APScheduler with two schedulers (two processes) on one job store,
counted the same way. Goal: ours 0.

``Run.rss_peak_mb["scheduler"]``: the largest peak resident set (VmHWM) of our scheduler's own
processes during the burst; APScheduler's is in the run's details.

    .venv/bin/python -m bench.scenarios.scheduler_emit [--events 5000] [--compared-events N]
        [--members 100] [--runs 1] [--only scheduler_emit@sqlite ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bench.harness import Options, Run, Scenario, summarise, table
from bench.scenarios import apscheduler_replica
from bench.scenarios.child_process import ChildProcess
from bench.scenarios.scheduler_burst import (
    DUE,
    BurstShape,
    Database,
    Message,
    drop_schema,
    expected_messages,
    fresh_rituals_stream,
    reset_schedule,
    schedule_state,
    seed_schedule,
    stream_messages,
    wait_for_messages,
)
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.streams import RITUALS

FULL_BURST = 100_000
QUICK_BURST = 5_000
# Where APScheduler runs too: it managed 80-640 events/s here (a 2-core machine, loaded or
# quiet), so 100,000 would take 2.5-20 minutes a run; both sides get this smaller burst. It was
# 10,000: APScheduler's side then took ~28 s of each of the six repetitions on the slowest
# machine, ~170 s of a `make bench` that must fit 15 minutes; 5,000 still takes it 8-15 s.
COMPARED_BURST = 5_000
QUICK_COMPARED_BURST = 2_000
# Members per community (each community has one ritual): a neighbourhood.
MEMBERS = 100
# Publishes in flight at once for the bare publisher: what a competent nats-py user gathers.
PUBLISH_CHUNK = 500
# The replicas start an hour before the burst (their first tick finds nothing due).
START = DUE - timedelta(hours=1)
BURST_TIMEOUT_S = 600.0
# The database side finishes just after the stream (the relay deletes what it published).
SETTLE_TIMEOUT_S = 60.0
# The last line of a traceback: the exception's class (dotted), a colon or the end.
TRACEBACK_END = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout))(?::|$)")
# Duplicates: the count is final once no message arrived for this long, every side idle.
QUIET_S = 1.0


@dataclass(frozen=True)
class Prepared:
    """What ``seed`` made and every repetition uses."""

    database: Database
    shape: BurstShape
    messages: list[Message]
    sqlite_dir: Path | None = None
    # The APScheduler job store (its schema holds our tables too), or None.
    apscheduler_url: str | None = None


# --- seeding --------------------------------------------------------------------------------


def _new_schema() -> str:
    return f"bench_sched_{uuid.uuid4().hex[:8]}"


async def _seed_postgres(options: Options, shape: BurstShape, apscheduler: bool) -> Prepared:
    database = Database(options.postgres_url, _new_schema())
    try:
        await seed_schedule(database, shape)
        messages = expected_messages(shape)
        url = None
        if apscheduler:
            url = apscheduler_replica.sync_url(options.postgres_url)
            assert database.schema is not None
            await asyncio.to_thread(
                apscheduler_replica.seed_job_store, url, database.schema, messages
            )
    except BaseException:
        # No cleanup comes for a seed that failed: leave no schema behind.
        await drop_schema(database)
        raise
    return Prepared(database, shape, messages, apscheduler_url=url)


async def _seed_sqlite(shape: BurstShape) -> Prepared:
    directory = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    database = Database(f"sqlite+aiosqlite:///{directory / 'scheduler.sqlite3'}", None)
    try:
        await seed_schedule(database, shape)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return Prepared(database, shape, expected_messages(shape), sqlite_dir=directory)


async def _cleanup(prepared: Prepared) -> None:
    await drop_schema(prepared.database)
    if prepared.sqlite_dir is not None:
        shutil.rmtree(prepared.sqlite_dir, ignore_errors=True)


# --- one broker per repetition --------------------------------------------------------------


@dataclass
class Broker:
    server: EmbeddedNatsServer
    client: Client
    js: JetStreamContext


@contextlib.asynccontextmanager
async def fresh_broker() -> AsyncIterator[Broker]:
    async with EmbeddedNatsServer() as server:
        client = await nats.connect(server.url)
        try:
            yield Broker(server, client, client.jetstream())
        finally:
            await client.close()


async def stop_children(children: list[ChildProcess], *, show: bool) -> list[str]:
    """Stop them all; their logs (stderr), also on the bench's stderr with ``show``."""
    logs = [await child.stop() for child in children]
    for child, log in zip(children, logs, strict=True):
        if show and log.strip():
            print(f"--- {child.name}'s log ---\n{log.rstrip()}", file=sys.stderr)
    return logs


def error_records(logs: list[str]) -> int:
    """Records logged at ERROR (APScheduler's plain ``LEVEL:logger:message`` lines)."""
    return sum(line.startswith("ERROR:") for log in logs for line in log.splitlines())


def exception_kinds(logs: list[str]) -> dict[str, int]:
    """How many tracebacks in the logs ended in each exception class."""
    kinds: Counter[str] = Counter()
    for log in logs:
        for line in log.splitlines():
            if match := TRACEBACK_END.match(line):
                kinds[match.group(1)] += 1
    return dict(kinds.most_common())


# --- the bare publisher ---------------------------------------------------------------------


async def bare_publisher(js: JetStreamContext, messages: list[Message]) -> float:
    """Events/s of plain nats-py JetStream publishes of the same messages into a fresh stream."""
    await fresh_rituals_stream(js)
    started = time.perf_counter()
    for start in range(0, len(messages), PUBLISH_CHUNK):
        await asyncio.gather(
            *(
                js.publish(
                    message.subject,
                    message.body,
                    headers={"Nats-Msg-Id": message.event_id, "content-type": "application/json"},
                )
                for message in messages[start : start + PUBLISH_CHUNK]
            )
        )
    elapsed = time.perf_counter() - started
    stored = await stream_messages(js)
    if stored != len(messages):
        raise RuntimeError(f"bare publisher: the stream holds {stored} of {len(messages)}")
    return len(messages) / elapsed


# --- our scheduler --------------------------------------------------------------------------


@dataclass
class Burst:
    events_per_s: float
    seconds: float
    # From the due instant to the end of the (last) tick: claim, stage, advance; the relay's
    # publishing makes up the rest.
    tick_s: float
    rss_peak_mb: float
    # Records logged at ERROR, and the exceptions their tracebacks end in (APScheduler's).
    errors: int = 0
    exceptions: dict[str, int] = field(default_factory=dict)


async def _start_replicas(prepared: Prepared, broker: Broker, count: int) -> list[ChildProcess]:
    """One after the other, each with an HTTP port this process chose: two children picking
    free ports each for itself once got the same one."""
    database = prepared.database
    children: list[ChildProcess] = []
    try:
        for n in range(count):
            arguments = [
                database.url,
                database.schema or "-",
                broker.server.url,
                START.isoformat(),
                str(free_port()),
            ]
            children.append(
                await ChildProcess.start(
                    "bench.scenarios.scheduler_replica", arguments, f"scheduler-{n}"
                )
            )
    except BaseException:
        await stop_children(children, show=True)
        raise
    return children


async def our_burst(prepared: Prepared, broker: Broker, replicas: int = 1) -> Burst:
    """Fire the burst through ``replicas`` scheduler processes; check what they left behind."""
    await reset_schedule(prepared.database)
    await fresh_rituals_stream(broker.js)
    children = await _start_replicas(prepared, broker, replicas)
    try:
        started_wall, started_monotonic = time.time(), time.monotonic()
        for child in children:
            await child.send(f"advance {DUE.isoformat()}")
        ticked = [float((await child.expect("ticked", BURST_TIMEOUT_S))[0]) for child in children]
        arrival = await wait_for_messages(broker.js, prepared.shape.events, BURST_TIMEOUT_S)
        await _settled_schedule(prepared)
        rss = max(child.rss_peak_mb() for child in children)
    finally:
        # At WARNING, our scheduler says nothing unless something went wrong: then show it.
        await stop_children(children, show=True)
    stored = await stream_messages(broker.js)
    if stored != prepared.shape.events:
        raise RuntimeError(f"the stream holds {stored} messages, {prepared.shape.events} expected")
    await _check_bodies(broker.js, prepared)
    seconds = arrival.last_stored_at - started_wall
    return Burst(
        events_per_s=prepared.shape.events / seconds,
        seconds=seconds,
        tick_s=max(ticked) - started_monotonic,
        rss_peak_mb=rss,
    )


async def _settled_schedule(prepared: Prepared) -> None:
    """Every cursor past the instant, the outbox empty (within ``SETTLE_TIMEOUT_S``)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        state = await schedule_state(prepared.database)
        if state.cursors != prepared.shape.communities:
            raise RuntimeError(f"{state.cursors} cursors, {prepared.shape.communities} seeded")
        if state.cursors_not_advanced == 0 and state.outbox_rows == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"after the burst: {state}")
        await asyncio.sleep(0.05)


async def _check_bodies(js: JetStreamContext, prepared: Prepared, samples: int = 20) -> None:
    """Stored messages are, byte for byte, those the bare publisher and APScheduler send."""
    by_id = {message.event_id: message for message in prepared.messages}
    count = prepared.shape.events
    for sequence in sorted({1 + n * (count - 1) // max(1, samples - 1) for n in range(samples)}):
        stored = await js.get_msg(RITUALS.name, seq=sequence)
        event_id = (stored.headers or {}).get("Nats-Msg-Id", "")
        expected = by_id.get(event_id)
        if expected is None or (stored.subject, stored.data) != (expected.subject, expected.body):
            raise RuntimeError(f"stream message {sequence} is not an expected event")


# --- APScheduler ----------------------------------------------------------------------------


async def _start_apschedulers(prepared: Prepared, broker: Broker, count: int) -> list[ChildProcess]:
    assert prepared.apscheduler_url is not None
    assert prepared.database.schema is not None
    arguments = [prepared.apscheduler_url, prepared.database.schema, broker.server.url]
    children = []
    try:
        for n in range(count):
            children.append(
                await ChildProcess.start(
                    "bench.scenarios.apscheduler_replica", arguments, f"apscheduler-{n}"
                )
            )
    except BaseException:
        await stop_children(children, show=True)
        raise
    return children


async def apscheduler_burst(prepared: Prepared, broker: Broker) -> Burst:
    """The same burst through one APScheduler process, counted at the stream."""
    assert prepared.apscheduler_url is not None
    assert prepared.database.schema is not None
    await asyncio.to_thread(
        apscheduler_replica.reset_job_store, prepared.apscheduler_url, prepared.database.schema
    )
    await fresh_rituals_stream(broker.js)
    children = await _start_apschedulers(prepared, broker, 1)
    try:
        started_wall, started_monotonic = time.time(), time.monotonic()
        await children[0].send("go")
        arrival = await wait_for_messages(broker.js, prepared.shape.events, BURST_TIMEOUT_S)
        rss = children[0].rss_peak_mb()
    except BaseException:
        await stop_children(children, show=True)
        raise
    # Counted, not shown: under load, its publishes time out by the thousand (each a traceback).
    logs = await stop_children(children, show=False)
    await _check_bodies(broker.js, prepared)
    seconds = arrival.last_stored_at - started_wall
    tick_s = time.monotonic() - started_monotonic  # no tick to see: the whole burst
    return Burst(
        prepared.shape.events / seconds,
        seconds,
        tick_s,
        rss,
        errors=error_records(logs),
        exceptions=exception_kinds(logs),
    )


# --- duplicates -----------------------------------------------------------------------------


class PublishCounter:
    """Every message published on the events' subjects, before the stream drops duplicates."""

    def __init__(self) -> None:
        self.delivered = 0
        self.event_ids: set[str] = set()
        self.last_at = time.monotonic()

    async def on_message(self, message: Msg) -> None:
        self.delivered += 1
        self.event_ids.add((message.headers or {}).get("Nats-Msg-Id", ""))
        self.last_at = time.monotonic()

    @property
    def duplicates(self) -> int:
        return self.delivered - len(self.event_ids)

    async def quiet(self, expected: int) -> None:
        """Until every event arrived and nothing more for ``QUIET_S``."""
        deadline = time.monotonic() + BURST_TIMEOUT_S
        while len(self.event_ids) < expected or time.monotonic() - self.last_at < QUIET_S:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.event_ids)} of {expected} distinct events arrived")
            await asyncio.sleep(0.05)


@dataclass
class Duplicates:
    delivered: int
    distinct: int
    rss_peak_mb: float
    # Records the replicas logged at ERROR, and the exceptions their tracebacks end in.
    errors: int = 0
    exceptions: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return self.delivered - self.distinct


async def _counted(broker: Broker) -> tuple[PublishCounter, Any]:
    counter = PublishCounter()
    subjects = RITUALS.subjects[0]
    subscription = await broker.client.subscribe(subjects, cb=counter.on_message)
    return counter, subscription


async def our_duplicates(prepared: Prepared, broker: Broker) -> Duplicates:
    await reset_schedule(prepared.database)
    await fresh_rituals_stream(broker.js)
    children = await _start_replicas(prepared, broker, 2)
    counter, subscription = await _counted(broker)
    try:
        for child in children:
            await child.send(f"advance {DUE.isoformat()}")
        for child in children:
            await child.expect("ticked", BURST_TIMEOUT_S)
        await _settled_schedule(prepared)
        await counter.quiet(prepared.shape.events)
        rss = max(child.rss_peak_mb() for child in children)
    finally:
        await subscription.unsubscribe()
        await stop_children(children, show=True)
    return Duplicates(counter.delivered, len(counter.event_ids), rss)


async def apscheduler_duplicates(prepared: Prepared, broker: Broker) -> Duplicates:
    assert prepared.apscheduler_url is not None
    assert prepared.database.schema is not None
    url, schema = prepared.apscheduler_url, prepared.database.schema
    await asyncio.to_thread(apscheduler_replica.reset_job_store, url, schema)
    await fresh_rituals_stream(broker.js)
    children = await _start_apschedulers(prepared, broker, 2)
    counter, subscription = await _counted(broker)
    try:
        for child in children:
            await child.send("go")
        deadline = time.monotonic() + BURST_TIMEOUT_S
        while await asyncio.to_thread(apscheduler_replica.jobs_left, url, schema):
            if time.monotonic() > deadline:
                raise TimeoutError("APScheduler left jobs in its store")
            await asyncio.sleep(0.2)
        await counter.quiet(prepared.shape.events)
        rss = max(child.rss_peak_mb() for child in children)
    except BaseException:
        await subscription.unsubscribe()
        await stop_children(children, show=True)
        raise
    await subscription.unsubscribe()
    # Two schedulers on one store: one finds a job the other already removed, and its
    # wake-up raises JobLookupError (logged by asyncio); counted, not shown.
    logs = await stop_children(children, show=False)
    return Duplicates(
        counter.delivered,
        len(counter.event_ids),
        rss,
        error_records(logs),
        exception_kinds(logs),
    )


# --- the scenarios --------------------------------------------------------------------------


async def measure_emit(prepared: Prepared) -> Run:
    async with fresh_broker() as broker:
        baseline = await bare_publisher(broker.js, prepared.messages)
        ours = await our_burst(prepared, broker)
    return Run(
        value=ours.events_per_s,
        baseline=baseline,
        rss_peak_mb={"scheduler": ours.rss_peak_mb},
        details={
            "events": prepared.shape.events,
            "seconds": round(ours.seconds, 3),
            "tick_seconds": round(ours.tick_s, 3),
            "publish_chunk": PUBLISH_CHUNK,
        },
    )


async def measure_vs_apscheduler(prepared: Prepared) -> Run:
    async with fresh_broker() as broker:
        ours = await our_burst(prepared, broker)
        theirs = await apscheduler_burst(prepared, broker)
    return Run(
        value=ours.events_per_s,
        baseline=theirs.events_per_s,
        rss_peak_mb={"scheduler": ours.rss_peak_mb},
        details={
            "events": prepared.shape.events,
            "seconds": round(ours.seconds, 3),
            "apscheduler_seconds": round(theirs.seconds, 3),
            "apscheduler_rss_peak_mb": round(theirs.rss_peak_mb, 1),
            "apscheduler_errors_logged": theirs.errors,
            "apscheduler_exceptions": theirs.exceptions,
        },
    )


async def measure_duplicates(prepared: Prepared) -> Run:
    async with fresh_broker() as broker:
        ours = await our_duplicates(prepared, broker)
        theirs = await apscheduler_duplicates(prepared, broker)
    return Run(
        value=ours.duplicates,
        baseline=theirs.duplicates,
        rss_peak_mb={"scheduler": ours.rss_peak_mb},
        details={
            "events": prepared.shape.events,
            "delivered": ours.delivered,
            "distinct": ours.distinct,
            "apscheduler_delivered": theirs.delivered,
            "apscheduler_distinct": theirs.distinct,
            "apscheduler_errors_logged": theirs.errors,
            "apscheduler_exceptions": theirs.exceptions,
            "apscheduler_rss_peak_mb": round(theirs.rss_peak_mb, 1),
        },
    )


def build_scenarios(
    options: Options, events: int, compared_events: int, members: int = MEMBERS
) -> list[Scenario]:
    """``events`` for ``scheduler_emit``; ``compared_events`` where APScheduler runs too; in
    communities of ``members``."""
    shape, compared_shape = BurstShape.of(events, members), BurstShape.of(compared_events, members)
    full = f"{events:,} events at one instant ({shape.communities:,} rituals x {members} members)"
    compared = f"{compared_events:,} events at one instant, both sides"
    if compared_events < events:
        compared += " (smaller: APScheduler takes minutes a run at full size)"
    process = "rss: the scheduler's own process"
    return [
        Scenario(
            name="scheduler_emit",
            unit="events/s",
            database="postgresql",
            seed=lambda: _seed_postgres(options, shape, apscheduler=False),
            measure=measure_emit,
            cleanup=_cleanup,
            goal="≥ 0.6",
            note=f"{full}; baseline bare nats-py publisher; {process}",
        ),
        Scenario(
            name="scheduler_emit",
            unit="events/s",
            database="sqlite",
            seed=lambda: _seed_sqlite(shape),
            measure=measure_emit,
            cleanup=_cleanup,
            goal="≥ 0.6",
            note=f"{full}; baseline bare nats-py publisher; {process}",
        ),
        Scenario(
            name="scheduler_vs_apscheduler",
            unit="events/s",
            database="postgresql",
            seed=lambda: _seed_postgres(options, compared_shape, apscheduler=True),
            measure=measure_vs_apscheduler,
            cleanup=_cleanup,
            goal="≥ 1.2",
            note=f"{compared}; baseline APScheduler 3 SQLAlchemyJobStore; {process}",
        ),
        Scenario(
            name="replicas_duplicates",
            unit="duplicates",
            database="postgresql",
            seed=lambda: _seed_postgres(options, compared_shape, apscheduler=True),
            measure=measure_duplicates,
            cleanup=_cleanup,
            goal="= 0",
            note=f"{compared}, two replicas each; baseline APScheduler, two on one job store",
        ),
    ]


def scenarios(options: Options) -> list[Scenario]:
    if options.quick:
        return build_scenarios(options, QUICK_BURST, QUICK_COMPARED_BURST)
    return build_scenarios(options, FULL_BURST, COMPARED_BURST)


# --- by hand --------------------------------------------------------------------------------


async def _run_by_hand(
    options: Options, events: int, compared: int, members: int, only: set[str]
) -> None:
    results: dict[str, dict[str, Any]] = {}
    for scenario in build_scenarios(options, events, compared, members):
        if only and scenario.key not in only:
            continue
        prepared = await scenario.seed() if scenario.seed else None
        try:
            runs = []
            for _ in range(options.runs):
                run = await scenario.measure(prepared)
                print(f"{scenario.key}: {run}", flush=True)
                runs.append(run)
        finally:
            if scenario.cleanup:
                await scenario.cleanup(prepared)
        results[scenario.key] = summarise(scenario, runs)
        peaks = [run.rss_peak_mb.get("scheduler", 0.0) for run in runs]
        print(f"  scheduler rss peak {statistics.median(peaks):.0f} MiB", flush=True)
    print(table(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=QUICK_BURST)
    parser.add_argument("--compared-events", type=int, default=None)
    parser.add_argument("--members", type=int, default=MEMBERS, help="per community")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", action="append", default=[], help="scenario key; repeatable")
    arguments = parser.parse_args()
    options = Options(runs=arguments.runs)
    compared = arguments.compared_events or arguments.events
    asyncio.run(
        _run_by_hand(options, arguments.events, compared, arguments.members, set(arguments.only))
    )


if __name__ == "__main__":
    main()
