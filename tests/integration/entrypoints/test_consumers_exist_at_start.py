"""Once a service has started, every durable consumer it reads from exists on the server, the
batch consumers' too (they run as background loops): a probe that says live, or a caller
reading the consumer's state, never finds it missing (the notifier SIGKILL test once did)."""

from __future__ import annotations

import nats
import pytest

from services.demo.system import DatabaseFor
from services.notifier.main import MIGRATIONS
from shared.clock import ManualClock
from shared.contracts import RitualDueV1
from shared.devsmtp import SmtpSink
from shared.messaging.consumer import ConsumerSpec
from shared.metrics import ServiceMetrics
from shared.natsdev import EmbeddedNatsServer
from shared.runtime import ServiceRuntime, build_plumbing
from shared.subjects import RITUAL_DUE
from tests.integration.rate_limits.test_three_notifiers import notifier_settings

pytestmark = pytest.mark.database


async def test_a_batch_consumer_exists_before_its_loop_has_pulled(
    database_for: DatabaseFor,
    nats_server: EmbeddedNatsServer,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    url, schema = database_for("notifier")
    settings = notifier_settings(url, schema, nats_server.url, smtp_sink)
    plumbing = build_plumbing(settings, ServiceMetrics("probe"))

    async def nothing(*_args: object) -> None:
        return None

    plumbing.consume_batches(ConsumerSpec("probe-batches", RitualDueV1), nothing, nothing)
    # The loop never runs here: only start can have created the consumer.
    runtime = ServiceRuntime("probe", plumbing, listeners=[], migrations=MIGRATIONS)
    await runtime.start()
    client = await nats.connect(nats_server.url)
    try:
        info = await client.jetstream().consumer_info("RITUALS", "probe-batches")
        assert info.config.durable_name == "probe-batches"
        assert info.config.filter_subject == RITUAL_DUE
    finally:
        await client.close()
        await runtime.stop()
