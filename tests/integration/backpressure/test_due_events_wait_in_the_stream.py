"""Backpressure: while more prompts are due than the dispatcher claims at a time, the notifier
takes no more due events in; they wait in the stream, unfetched, and are all sent, once each,
when it catches up (``services/notifier/handlers/workers/send_backlog.py``).

Sending is held back at the notifier's seam for e-mail (``wire_notifier(email=...)``): a
sender that accepts nothing until the test lets it, as a slow provider would. A real
nats-server tells what the consumer fetched (``num_pending``: in the stream, never fetched;
``num_waiting``: pulls outstanding; ``num_ack_pending``: fetched, not yet acknowledged), on
the notifier's real database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from services.demo.system import DatabaseFor
from services.notifier.adapters.tables import deliveries
from services.notifier.domain.mime import OutgoingEmail
from services.notifier.handlers.workers.dispatcher import Dispatcher
from services.notifier.handlers.workers.send_backlog import ROOM_WAIT_S
from services.notifier.main import wire_notifier
from shared.clock import ManualClock
from shared.devsmtp import SmtpSink
from shared.messaging.publisher import encode_event
from shared.natsdev import EmbeddedNatsServer
from shared.runtime import ServiceRuntime
from tests.fault.support import daily_ritual
from tests.integration.rate_limits.test_three_notifiers import (
    member,
    notifier_settings,
    seed_members,
)
from tests.support import eventually

pytestmark = pytest.mark.database

FIRST_WAVE = 10
SECOND_WAVE = 20  # the rate-limit tests' helpers seed 30 members
BATCH = 3


class HeldSender:
    """Takes e-mails only while ``open``; until then each hand-over waits."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.recipients: list[str] = []

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.open.set()

    async def send(self, message: OutgoingEmail) -> None:
        await self.open.wait()
        self.recipients.append(message.recipient)


async def publish_due(js: JetStreamContext, clock: ManualClock, members: range) -> None:
    due_at = clock.now() - timedelta(minutes=1)
    ritual = daily_ritual(
        "backpressure", due_at.replace(tzinfo=None).isoformat(timespec="seconds"), "bp"
    )
    for n in members:
        subject, body, headers = encode_event(
            ritual.due_event(member(n), "UTC", due_at, due_at, False)
        )
        await js.publish(subject, body, headers=headers)


@pytest.fixture
def sender() -> HeldSender:
    return HeldSender()


@pytest.fixture
async def notifier(
    database_for: DatabaseFor,
    nats_server: EmbeddedNatsServer,
    smtp_sink: SmtpSink,
    clock: ManualClock,
    sender: HeldSender,
) -> AsyncIterator[tuple[ServiceRuntime, Dispatcher]]:
    url, schema = database_for("notifier")
    await seed_members(url, schema, clock)
    settings = notifier_settings(url, schema, nats_server.url, smtp_sink).model_copy(
        update={"email_rate_per_s": 1000.0, "email_burst": 1000, "dispatch_batch_size": BATCH}
    )
    runtime, dispatcher = wire_notifier(settings, clock, email=sender)
    await runtime.start()
    try:
        yield runtime, dispatcher
    finally:
        await runtime.stop()


async def test_due_events_wait_in_the_stream_while_the_send_queue_is_deep(
    notifier: tuple[ServiceRuntime, Dispatcher],
    nats_server: EmbeddedNatsServer,
    sender: HeldSender,
    clock: ManualClock,
) -> None:
    runtime, dispatcher = notifier
    registry = runtime.plumbing.metrics.registry
    client = await nats.connect(nats_server.url)
    js = client.jetstream()

    async def consumer() -> tuple[int, int, int]:
        """Never fetched, pulls outstanding, fetched and not acknowledged."""
        info = await js.consumer_info("RITUALS", "notifier-ritual-due")
        return int(info.num_pending or 0), int(info.num_waiting or 0), info.num_ack_pending

    async def recorded() -> int:
        async with runtime.plumbing.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(deliveries)) or 0)

    async def holding_back() -> bool:
        _, waiting, unacknowledged = await consumer()
        return dispatcher.backlog.deep and waiting == unacknowledged == 0

    try:
        await publish_due(js, clock, range(FIRST_WAVE))
        # A full batch claimed and held at the provider: the consumer's outstanding pull ends
        # and no other is made.
        await eventually(holding_back)
        assert registry.get_sample_value("rituals_notifier_send_backlog") == 1.0
        taken_in, (left, _, _) = await recorded(), await consumer()
        assert 0 < taken_in <= FIRST_WAVE
        assert taken_in + left == FIRST_WAVE

        await publish_due(js, clock, range(FIRST_WAVE, FIRST_WAVE + SECOND_WAVE))
        # Over two of the consumer's waits for room, nothing is fetched.
        watch_until = asyncio.get_running_loop().time() + 2.5 * ROOM_WAIT_S
        while asyncio.get_running_loop().time() < watch_until:
            assert await consumer() == (left + SECOND_WAVE, 0, 0)
            assert await recorded() == taken_in
            await asyncio.sleep(0.1)

        # The provider takes messages again: the queue drains and the rest is taken in.
        sender.open.set()
        total = FIRST_WAVE + SECOND_WAVE
        await eventually(lambda: len(sender.recipients) == total, timeout_s=60)
        assert sorted(sender.recipients) == sorted(
            f"member{n}@limits.example" for n in range(total)
        )
        pending, _, unacknowledged = await consumer()
        assert (pending, unacknowledged) == (0, 0)
        assert await recorded() == total
        await eventually(lambda: not dispatcher.backlog.deep)
        assert registry.get_sample_value("rituals_notifier_send_backlog") == 0.0
    finally:
        await client.close()
