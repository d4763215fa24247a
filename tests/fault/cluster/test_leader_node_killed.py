"""A three-node JetStream cluster loses the node that leads every stream and every consumer in
the middle of a burst, and every prompt still reaches the SMTP server exactly once.

Three nats-servers from the wheel form a cluster on loopback (``EmbeddedNatsCluster``); two
schedulers and two notifiers (``python -m services.*``, real clock, one PostgreSQL schema per
service) run against all three URLs with ``*_STREAM_REPLICAS=3``, as the prod overlay sets it,
so the services themselves declare the streams R3. The test checks each stream and consumer is
held by three nodes, then steps leaders down until one node leads all of them: the node most
services are connected to, so that its death also cuts their connections.

Rituals fall due in waves: each wave is inserted already due (the services run on the real
clock; nothing waits for a schedule), and the next one goes in when the first prompt of the
previous one has reached the sink, so waves overlap along scheduler → RITUALS → notifier →
SMTP, PromptSent → PROMPTS. When the first prompt of wave ``KILL_AFTER_WAVE`` arrives, that
node is SIGKILLed: earlier waves are in flight (PromptSent publishes and acks, consumer state),
the next wave is inserted at once and must go all the way through the two survivors, which
first have to elect new leaders. The count waits until every consumer has acknowledged
everything, including messages whose acknowledgement died with the node and which come back
after the 60 s ack wait: that redelivery is where a failover could still cause a second send.

Expected: exactly once at the sink per (member, occurrence), i.e. per Message-ID (a stable
delivery id): 0 lost, 0 duplicates. Only a notifier dying mid-send may repeat a message
(bounded by NOTIFIER_MAX_IN_DOUBT, tests/fault/test_notifier_sigkill.py); here no service
dies, so anything repeated would be the cluster's failover leaking through. Figures (sent,
lost, duplicates, election and recovery times) are printed for the notes.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.adapters.tables import deliveries
from services.notifier.adapters.tables import outbox as notifier_outbox
from services.notifier.domain.delivery import DeliveryStatus
from services.notifier.domain.prompt_job import delivery_id_for
from services.scheduler.adapters.tables import outbox as scheduler_outbox
from shared.contracts import Channel
from shared.db import create_engine
from shared.devsmtp import SmtpSink
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsCluster, EmbeddedNatsServer, free_port
from shared.streams import PROMPTS, RITUALS
from shared.subjects import PROMPT_SENT, RITUAL_DUE
from tests.fault.cluster.support import (
    NOTIFIER_MIGRATIONS,
    ArrivalClock,
    RaftGroup,
    address,
    leaders,
    move_leader,
    notifier_env,
    postgres_schemas,
    raft_groups,
    seed_community,
    seed_contacts,
    seed_wave,
)
from tests.fault.support import MIGRATIONS as SCHEDULER_MIGRATIONS
from tests.fault.support import (
    cancel_all,
    probe,
    scheduler_env,
    stop,
    tail,
)
from tests.support import eventually

COMMUNITY = "cluster"
MEMBERS = 50
RITUALS_PER_WAVE = 3  # a wave: 3 x 50 = 150 prompts
WAVES = 6
KILL_AFTER_WAVE = 2  # 0-based: three waves before the kill, three after
MESSAGE_ID_DOMAIN = "cluster.rituals.localhost"
REPLICAS = 2  # of each service
# Generous: polling, not sleeping, so a loaded CI machine only makes these waits longer.
WAVE_DEADLINE_S = 60.0
ALL_IN_DEADLINE_S = 100.0
DRAINED_DEADLINE_S = 90.0  # the consumers' ack wait (60 s) and a margin
QUIET_S = 2.0  # of nothing new at the sink after the last expected prompt: room for a duplicate
MAX_EXITS_AT_START = 3  # per service (see Service.until_ready)

# Raft groups the services must have declared before the leaders move (each service declares
# its consumers as it starts; the test waits for these so none is created after the move).
REQUIRED_CONSUMERS = (
    RaftGroup(RITUALS.name, "notifier-ritual-due"),
    RaftGroup(PROMPTS.name, "scheduler-prompt-sent"),
)


@dataclass
class Service:
    """One service process (``python -m <module>``), its listener and its log."""

    name: str
    module: str
    env: dict[str, str]
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None
    exits_at_start: int = 0

    async def start(self) -> None:
        with self.log.open("ab") as log:  # appended: a restart keeps what the last life said
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                cwd=self.log.parent,
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )

    async def until_ready(self, http: aiohttp.ClientSession, timeout_s: float) -> None:
        """Until /health/ready answers 200. A process that exits first is started again, as
        the orchestrator would: declaring streams and consumers on a cluster formed seconds
        ago can outlast nats-py's 5 s request timeout on a loaded machine (seen: FastStream's
        ``pull_subscribe`` -> ``consumer_info``: nats: timeout), and the service exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            assert self.process is not None
            if self.process.returncode is not None:
                assert self.exits_at_start < MAX_EXITS_AT_START, (
                    f"{self.name} exited at start {self.exits_at_start + 1} times:\n"
                    f"{tail(self.log)}"
                )
                self.exits_at_start += 1
                await self.start()
            if (await probe(http, f"http://127.0.0.1:{self.port}/health/ready", 5)).status == 200:
                return
            assert loop.time() < deadline, f"{self.name} not ready:\n{tail(self.log)}"
            await asyncio.sleep(0.05)

    @property
    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.returncode


class Waves:
    """The prompts expected at the sink, by Message-ID, with the wave each belongs to."""

    def __init__(self) -> None:
        self.wave_of: dict[str, int] = {}
        self.address_of: dict[str, str] = {}
        self.first_arrival: dict[int, int] = {}  # wave -> index at the sink of its first prompt
        self._arrived: set[str] = set()
        self._scanned = 0

    def add(self, wave: int, members_by_ritual_due: dict[str, int]) -> None:
        for event_id, member in members_by_ritual_due.items():
            message_id = f"<{delivery_id_for(event_id, Channel.email)}@{MESSAGE_ID_DOMAIN}>"
            self.wave_of[message_id] = wave
            self.address_of[message_id] = address(COMMUNITY, member)

    def arrived(self, wave: int, sink: SmtpSink) -> bool:
        """Whether a prompt of ``wave`` has reached the sink."""
        self._scan(sink)
        return wave in self.first_arrival

    def all_in(self, sink: SmtpSink) -> bool:
        self._scan(sink)
        return len(self._arrived) == len(self.wave_of)

    def _scan(self, sink: SmtpSink) -> None:
        """Reads only what is new at the sink (polled often, on a busy machine)."""
        messages = sink.messages
        for index in range(self._scanned, len(messages)):
            message_id = str(messages[index].message["Message-ID"])
            seen = self.wave_of.get(message_id)
            if seen is not None:
                self.first_arrival.setdefault(seen, index)
                self._arrived.add(message_id)
        self._scanned = len(messages)


async def start_services(
    nats_url: str, url: str, schemas: dict[str, str], sink: SmtpSink, tmp_path: Path
) -> list[Service]:
    """Two schedulers and two notifiers, all started before any is waited for (start-up is
    mostly imports: on 2 cores they overlap), then each until it is ready."""
    services: list[Service] = []
    for n in range(REPLICAS):
        port = free_port()
        env = scheduler_env(nats_url, url, schemas["scheduler"], port, batch_size=50)
        env["SCHEDULER_STREAM_REPLICAS"] = "3"  # as the prod overlay sets it
        services.append(
            Service(
                f"scheduler{n}", "services.scheduler", env, port, tmp_path / f"scheduler{n}.log"
            )
        )
    for n in range(REPLICAS):
        port = free_port()
        env = notifier_env(
            nats_url, url, schemas["notifier"], port, free_port(), sink, MESSAGE_ID_DOMAIN
        )
        env["NOTIFIER_STREAM_REPLICAS"] = "3"
        services.append(
            Service(f"notifier{n}", "services.notifier", env, port, tmp_path / f"notifier{n}.log")
        )
    for service in services:
        await service.start()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(service.until_ready(http, timeout_s=90) for service in services))
    return services


async def connect(cluster: EmbeddedNatsCluster) -> Client:
    async def quiet(_error: Exception) -> None:
        pass  # the node this client used may be the one killed: it reconnects to another

    return await nats.connect(
        cluster.urls,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=-1,
        error_cb=quiet,
    )


async def delivery_statuses(engine: AsyncEngine) -> dict[str, int]:
    query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
    async with engine.connect() as connection:
        return {str(row[0]): int(row[1]) for row in (await connection.execute(query)).all()}


async def outbox_rows(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def stored(js: JetStreamContext, stream: str, subject: str) -> int:
    """Messages on ``subject`` the stream holds (each publish JetStream did not drop)."""
    info = await js.stream_info(stream, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def service_connections(cluster: EmbeddedNatsCluster, client: Client) -> dict[str, int]:
    """Client connections each node holds, this test's own not counted (from the monitors)."""

    def fetch(node: EmbeddedNatsServer) -> int:
        monitor = f"http://{node.host}:{node.monitor_port}/connz"
        with urllib.request.urlopen(monitor, timeout=5) as response:
            return int(json.load(response)["num_connections"])

    ours = client.connected_url.port if client.connected_url else None
    return {
        str(node.name): await asyncio.to_thread(fetch, node) - int(node.port == ours)
        for node in cluster.nodes
    }


async def until_all_led_elsewhere(
    js: JetStreamContext, groups: list[RaftGroup], dead: str
) -> float:
    """Loop time at which every group has a leader again, on a surviving node."""
    loop = asyncio.get_running_loop()
    while True:
        now = await asyncio.gather(*(group.leader(js, 1.0) for group in groups))
        if all(leader is not None and leader != dead for leader in now):
            return loop.time()
        await asyncio.sleep(0.05)


async def backlog(js: JetStreamContext, groups: list[RaftGroup]) -> dict[str, tuple[int, int]]:
    """(pending, acknowledgement pending) of every consumer that has either."""
    left: dict[str, tuple[int, int]] = {}
    for group in groups:
        if group.consumer is not None:
            info = await js.consumer_info(group.stream, group.consumer)
            if info.num_pending or info.num_ack_pending:
                left[str(group)] = (info.num_pending or 0, info.num_ack_pending or 0)
    return left


def service_logs(services: list[Service]) -> str:
    return "\n".join(f"--- {s.name} (exit {s.exit_code}):\n{tail(s.log, 15)}" for s in services)


# Measured on 2 cores shared with other work: 36-85 s (85: waiting out the 60 s ack wait for a
# redelivery); start-up of four services took 4-29 s depending on the load, the election 7-14 s.
# The headroom is for a loaded CI machine.
@pytest.mark.timeout(170)
async def test_killing_the_node_that_leads_everything_mid_burst_loses_and_repeats_nothing(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with (
        postgres_schemas("scheduler", "notifier") as (url, schemas),
        EmbeddedNatsCluster(tmp_path / "nats") as cluster,
    ):
        now = datetime.now(UTC).replace(microsecond=0)
        scheduler_db = create_engine(url, schemas["scheduler"])
        notifier_db = create_engine(url, schemas["notifier"])
        services: list[Service] = []
        tasks: list[asyncio.Task[None]] = []
        elected: asyncio.Task[float] | None = None  # when every group has a leader again
        client = await connect(cluster)
        js = client.jetstream()
        # Every publish attempt, as core NATS carries it whether or not a stream stores it: a
        # lower bound (this client may be reconnecting itself), to show the retries happened.
        publishes: Counter[str] = Counter()

        async def count(msg: Msg) -> None:
            publishes[msg.subject] += 1

        for subject in (RITUAL_DUE, PROMPT_SENT):
            await client.subscribe(subject, cb=count)
        try:
            # Migrated once here, so four services starting together wait on no lock.
            await upgrade_to_head(scheduler_db, SCHEDULER_MIGRATIONS, schemas["scheduler"])
            await upgrade_to_head(notifier_db, NOTIFIER_MIGRATIONS, schemas["notifier"])
            await seed_community(scheduler_db, COMMUNITY, MEMBERS, now)
            await seed_contacts(notifier_db, COMMUNITY, MEMBERS, now)
            services = await start_services(cluster.url, url, schemas, smtp_sink, tmp_path)
            services_ready_s = loop.time() - started

            # The services declared the streams and their consumers: R3, as configured.
            for group in REQUIRED_CONSUMERS:
                await eventually(functools.partial(group.leader, js), timeout_s=60)
            groups = await raft_groups(js)
            for group in groups:
                assert await group.replicas(js) == 3, f"{group} is not replicated on 3 nodes"
            # The node to kill: the one most services are connected to (the client library
            # shuffles the three URLs), so that its death also cuts their connections.
            connected = await service_connections(cluster, client)
            doomed = max(connected, key=lambda name: connected[name])
            assert connected[doomed] > 0, connected
            stepdowns = 0
            for group in groups:
                stepdowns += await move_leader(client, group, doomed, timeout_s=60)
            assert set((await leaders(js, groups)).values()) == {doomed}
            ready_s = loop.time() - started

            arrivals = ArrivalClock(smtp_sink)
            tasks.append(asyncio.create_task(arrivals.run()))
            waves = Waves()
            kill_at = 0.0
            delivered_at_kill = expected_at_kill = 0
            burst_started = loop.time()
            for wave in range(WAVES):
                due_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
                ritual_ids = [f"w{wave:02d}r{r:02d}" for r in range(RITUALS_PER_WAVE)]
                waves.add(
                    wave, await seed_wave(scheduler_db, COMMUNITY, MEMBERS, ritual_ids, due_at)
                )
                try:
                    await eventually(
                        functools.partial(waves.arrived, wave, smtp_sink),
                        timeout_s=WAVE_DEADLINE_S,
                        interval_s=0.01,
                    )
                except AssertionError:
                    raise AssertionError(
                        f"no prompt of wave {wave} arrived within {WAVE_DEADLINE_S} s "
                        f"({len(smtp_sink.messages)} at the sink)\n{service_logs(services)}"
                    ) from None
                if wave == KILL_AFTER_WAVE:
                    # A leader starved of CPU for seconds (a loaded machine) may have lost its
                    # group since: moved back (no step-down when it has not), then checked.
                    for group in groups:
                        stepdowns += await move_leader(client, group, doomed, timeout_s=30)
                    assert set((await leaders(js, groups)).values()) == {doomed}
                    await cluster.node(doomed).kill()
                    kill_at = loop.time()
                    delivered_at_kill = len(smtp_sink.messages)
                    expected_at_kill = len(waves.wave_of)
                    elected = asyncio.create_task(until_all_led_elsewhere(js, groups, doomed))

            try:
                await eventually(
                    lambda: waves.all_in(smtp_sink), timeout_s=ALL_IN_DEADLINE_S, interval_s=0.05
                )
            except AssertionError:
                statuses = await delivery_statuses(notifier_db)
                arrived = {str(m.message["Message-ID"]) for m in smtp_sink.messages}
                missing = set(waves.wave_of) - arrived
                raise AssertionError(
                    f"{len(missing)} prompts never arrived (by wave: "
                    f"{dict(Counter(waves.wave_of[m] for m in missing))}); deliveries: "
                    f"{statuses}\n{service_logs(services)}"
                ) from None
            last_expected_at = loop.time()
            assert elected is not None
            elected_at = await asyncio.wait_for(elected, timeout=30)
            # PromptSent events all left the notifiers' outboxes through the survivors.
            await eventually(
                lambda: _empty(notifier_db, notifier_outbox), timeout_s=30, interval_s=0.1
            )
            # Every consumer of the services (the schedulers' of PromptSent too) took up its
            # work again on the survivors, and everything it was handed is acknowledged. An ack
            # sent while its consumer had no leader is lost: the message comes back after the
            # ack wait (60 s), and that redelivery of a RitualDue is exactly where a failover
            # could still produce a second send. So the count waits for it: the deadline is
            # the ack wait and a margin; how many were awaiting it is printed.
            awaiting_redelivery = {g: acks for g, (_, acks) in (await backlog(js, groups)).items()}
            try:
                await eventually(
                    lambda: _drained(js, groups), timeout_s=DRAINED_DEADLINE_S, interval_s=0.2
                )
            except AssertionError:
                raise AssertionError(
                    f"consumers behind: {await backlog(js, groups)}\n{service_logs(services)}"
                ) from None
            drained_at = loop.time()
            # A duplicate would come right behind: wait until the sink has been quiet a while.
            await _quiet(smtp_sink, QUIET_S)
            survivors = await leaders(js, groups)
            statuses = await delivery_statuses(notifier_db)
            scheduler_left = await outbox_rows(scheduler_db, scheduler_outbox)
            ritual_dues_stored = await stored(js, RITUALS.name, RITUAL_DUE)
            prompts_sent_stored = await stored(js, PROMPTS.name, PROMPT_SENT)
            # Not restarted once ready: an exit during the burst is a failure.
            crashed = {s.name: s.exit_code for s in services if s.exit_code is not None}
        finally:
            if elected is not None:
                elected.cancel()
            await cancel_all(tasks)
            for service in services:
                if service.process is not None:
                    await stop(service.process)
            await client.close()
            await scheduler_db.dispose()
            await notifier_db.dispose()

    mails = smtp_sink.messages
    received = Counter(str(m.message["Message-ID"]) for m in mails)
    expected = set(waves.wave_of)
    lost = expected - set(received)
    unexpected = set(received) - expected
    duplicates = sum(count - 1 for count in received.values())
    after_kill = [at for at in arrivals.at if at > kill_at]
    gaps = [b - a for a, b in itertools.pairwise([kill_at, *after_kill])]
    recovery_s = arrivals.at[waves.first_arrival[KILL_AFTER_WAVE + 1]] - kill_at
    print(
        f"\nNATS cluster fault: nodes=3 stream_replicas=3 killed={doomed} (SIGKILL; leader of "
        f"{len(groups)} streams and consumers, {stepdowns} step-downs to get there) "
        f"schedulers={REPLICAS} notifiers={REPLICAS} service_connections={connected} "
        f"exits_at_start={sum(s.exits_at_start for s in services)} "
        f"expected={len(expected)} sent={len(mails)} delivered={len(received)} lost={len(lost)} "
        f"duplicates={duplicates} unexpected={len(unexpected)} "
        f"setup_s={ready_s:.1f} (services ready {services_ready_s:.1f}) "
        f"killed_s={kill_at - burst_started:.1f} into the burst, when "
        f"{expected_at_kill} prompts were due and {delivered_at_kill} had arrived; "
        f"election_s={elected_at - kill_at:.2f} "
        f"first_after_kill_s={(after_kill[0] - kill_at) if after_kill else float('nan'):.2f} "
        f"recovery_s={recovery_s:.2f} (first prompt of a wave seeded after the kill) "
        f"longest_gap_s={max(gaps, default=0.0):.2f} "
        f"catch_up_s={last_expected_at - kill_at:.2f} "
        f"awaiting_redelivery={awaiting_redelivery} "
        f"consumers_drained_s={drained_at - kill_at:.2f} "
        f"ritual_due: stored={ritual_dues_stored} publishes_seen={publishes[RITUAL_DUE]} "
        f"prompt_sent: stored={prompts_sent_stored} publishes_seen={publishes[PROMPT_SENT]} "
        f"deliveries={statuses} new_leaders={dict(Counter(survivors.values()))} "
        f"total_s={loop.time() - started:.1f}"
    )
    assert not crashed, f"services died: {crashed}"
    # The kill landed mid-burst: prompts had arrived, others were still to come.
    assert 0 < delivered_at_kill < len(expected)
    assert not lost, f"{len(lost)} lost, by wave {dict(Counter(waves.wave_of[m] for m in lost))}"
    assert not unexpected
    assert duplicates == 0, {m: c for m, c in received.items() if c > 1}
    for mail in mails:
        assert mail.envelope_to == (waves.address_of[str(mail.message["Message-ID"])],)
    # The record agrees: every delivery sent once, nothing left to relay.
    assert statuses == {DeliveryStatus.sent.value: len(expected)}
    assert scheduler_left == 0
    # And JetStream kept its own promise across the failover: a republished event id (a
    # publish whose PubAck the dead leader never sent) was dropped, not stored twice.
    assert ritual_dues_stored == len(expected)
    assert prompts_sent_stored == len(expected)
    assert all(leader not in (None, doomed) for leader in survivors.values()), survivors


async def _drained(js: JetStreamContext, groups: list[RaftGroup]) -> bool:
    try:
        return not await backlog(js, groups)
    except Exception:  # a request lost on the way (this client reconnecting): ask again
        return False


async def _empty(engine: AsyncEngine, table: Table) -> bool:
    return await outbox_rows(engine, table) == 0


async def _quiet(sink: SmtpSink, quiet_s: float) -> None:
    """Until nothing new has reached the sink for ``quiet_s``."""
    seen = -1
    while (now := len(sink.messages)) != seen:
        seen = now
        await asyncio.sleep(quiet_s)
