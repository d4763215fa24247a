"""nats-server restarts while a service publishes: no acknowledged message is lost.

The server runs with JetStream ``sync_interval: always`` (every message fsynced before its
PubAck). Publishers go through the services' own broker (``shared.runtime.build_broker``) and
``JetStreamPublisher``, each message with its ``Nats-Msg-Id``, retrying a message until it is
acknowledged, as the outbox relay does. The server is restarted 10 times while they publish,
alternately by SIGTERM (graceful shutdown) and SIGKILL (no flush, no goodbye), on the same
port and store. At the end every acknowledged message must be in the stream; reconnect times
are printed for the notes.

What ``sync_interval: always`` adds over the default is survival of an OS crash or power loss;
killing the process leaves written data in the page cache, so this test also passes without it
(measured: 0 lost, ~6x the throughput). It checks that the server runs with the setting, and
that our publisher counts a message as sent only on a real PubAck (publishing without waiting
for one, the same run "loses" most messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import statistics
import urllib.request
from collections import Counter
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.messaging.publisher import MSG_ID_HEADER, JetStreamPublisher
from shared.natsdev import EmbeddedNatsServer
from shared.runtime import build_broker
from shared.streams import RITUALS, ensure_streams
from shared.subjects import RITUAL_DUE
from tests.support import eventually

PLAN = ("SIGTERM", "SIGKILL") * 5
WORKERS = 8  # concurrent publishers: some request is always in flight when the server goes
STEADY_S = 0.5  # of publishing after each reconnection, before the next restart
RECONNECT_DEADLINE_S = 15.0


async def test_no_acknowledged_message_is_lost_across_nats_restarts(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats", sync_always=True)
    await server.start()
    assert await _syncs_always(server)  # the configuration took, as seen by the server
    broker = build_broker(server.url)
    loop = asyncio.get_running_loop()
    acked: dict[str, float] = {}  # message id -> when its PubAck arrived
    attempted: set[str] = set()
    failures: Counter[str] = Counter()
    stop = asyncio.Event()
    numbers = itertools.count()
    workers: list[asyncio.Task[None]] = []
    timings: list[tuple[str, float, float, float]] = []
    try:
        await broker.connect()
        await ensure_streams(broker.config.connection_state.stream)
        publisher = JetStreamPublisher(broker)
        client = broker.connection

        async def publish_steadily() -> None:
            while not stop.is_set():
                msg_id = f"restart-{next(numbers):07d}"
                attempted.add(msg_id)
                payload = f'{{"id": "{msg_id}"}}'.encode()
                while not stop.is_set():
                    try:
                        await publisher.publish_raw(RITUAL_DUE, payload, {MSG_ID_HEADER: msg_id})
                    except Exception as error:  # no PubAck: the same id again, as the relay does
                        failures[type(error).__name__] += 1
                        await asyncio.sleep(0.05)
                    else:
                        acked[msg_id] = loop.time()
                        break

        workers = [asyncio.create_task(publish_steadily()) for _ in range(WORKERS)]
        for how in PLAN:
            await asyncio.sleep(STEADY_S)  # fault timing: publishing is under way
            reconnects = client.stats["reconnects"]
            signalled = loop.time()
            await server.restart(kill=how == "SIGKILL")
            up = loop.time()

            def reconnected(before: int = reconnects) -> bool:
                return client.stats["reconnects"] > before

            def acked_since(instant: float = up) -> bool:
                return any(at > instant for at in acked.values())

            await eventually(reconnected, timeout_s=RECONNECT_DEADLINE_S, interval_s=0.005)
            reconnected_at = loop.time()
            await eventually(acked_since, timeout_s=RECONNECT_DEADLINE_S, interval_s=0.005)
            first_ack = min(at for at in acked.values() if at > up)
            timings.append((how, up - signalled, reconnected_at - up, first_ack - up))
        await asyncio.sleep(STEADY_S)
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await broker.stop()

    try:
        stored = await _stored_message_ids(server.url)
    finally:
        await server.close()

    lost = set(acked) - set(stored)
    reconnect_s = [t[2] for t in timings]
    print(
        f"\nNATS restart fault: restarts={len(timings)} "
        f"({PLAN.count('SIGTERM')} SIGTERM, {PLAN.count('SIGKILL')} SIGKILL) "
        f"sync_always={server.sync_always} "
        f"published={len(attempted)} acked={len(acked)} lost={len(lost)} "
        f"stream_messages={len(stored)} duplicates_in_stream={len(stored) - len(set(stored))} "
        f"failed_attempts={dict(failures)} "
        f"reconnect_s median={statistics.median(reconnect_s):.2f} max={max(reconnect_s):.2f} "
        + " ".join(
            f"{how}:down={down:.2f}/reconnect={rec:.2f}/first_ack={ack:.2f}"
            for how, down, rec, ack in timings
        )
    )
    assert len(timings) == len(PLAN)  # reconnected after every restart
    assert len(acked) > 0
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"


async def _syncs_always(server: EmbeddedNatsServer) -> bool:
    url = f"http://{server.host}:{server.monitor_port}/jsz?config=true"

    def fetch() -> bool:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(json.load(response)["config"]["sync_always"])

    return await asyncio.to_thread(fetch)


async def _stored_message_ids(url: str) -> list[str]:
    """Every message the stream holds, by its Nats-Msg-Id, read through a fresh consumer."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        # Wait for the server to finish storing what it has taken in (it may lag the publishers).
        total = -1
        while (now := (await js.stream_info(RITUALS.name)).state.messages) != total:
            total = now
            await asyncio.sleep(0.5)
        consumer = await js.pull_subscribe(
            RITUAL_DUE,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.ALL, max_ack_pending=-1
            ),
        )
        ids: list[str] = []
        while len(ids) < total:
            try:
                batch = await consumer.fetch(1000, timeout=10)
            except TimeoutError as error:
                raise AssertionError(f"read {len(ids)} of the stream's {total} messages") from error
            for msg in batch:
                ids.append((msg.headers or {}).get(MSG_ID_HEADER, ""))
            await batch[-1].ack()  # AckAll: one round trip per batch
        return ids
    finally:
        await client.close()
