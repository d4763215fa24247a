"""A pull consumer with nothing to fetch logs no ERROR and no traceback, while a real failure
of FastStream's pull loop still does.

nats-py's ``fetch`` raises the builtin ``TimeoutError`` (not its own ``nats.errors`` one,
which FastStream's pull loop catches) when its deadline has passed by the time the first pull
request is answered: a busy event loop at start-up (migrations, imports). Here the deadline
check is made to fail once, so that path runs for real: nats-py raises, FastStream's
supervisor logs and restarts the loop.

nats-py only checks that deadline once the server has answered its pull request, and the
server answers an idle one when its ``expires`` runs out: 0.1 ms before nats-py's own
timer, a race nats-py's timer mostly wins (it then raises its own, caught, TimeoutError and
the deadline is never checked). So each wait for an answer is given a second more here: the
answer always arrives first and the deadline check always runs, as on a busy loop.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from nats.aio.subscription import Subscription
from nats.js.client import JetStreamContext

from shared.contracts import PromptSentV1
from shared.messaging.consumer import ConsumerSpec, Delivery, EventConsumer
from shared.messaging.publisher import RecordingPublisher
from shared.natsdev import EmbeddedNatsServer
from shared.runtime import build_broker
from shared.streams import ensure_streams
from tests.integration.observability.logs.conftest import json_lines
from tests.support import eventually


async def _idle_consumer_with_one_failed_fetch(
    nats_server: EmbeddedNatsServer, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    real = JetStreamContext._time_until
    calls: list[object] = []

    def deadline_passed_once(timeout: float | None, start: float) -> float | None:
        calls.append(timeout)
        if len(calls) == 1:
            if isinstance(failure, TimeoutError):
                return -1.0  # nats-py raises asyncio.TimeoutError itself
            raise failure
        result: float | None = real(timeout, start)
        return result

    monkeypatch.setattr(JetStreamContext, "_time_until", staticmethod(deadline_passed_once))
    real_next_msg = Subscription.next_msg

    # nats-py's own signature, hence a timeout parameter on an async function.
    async def answer_before_the_timer(
        self: Subscription,
        timeout: float | None = 1.0,  # noqa: ASYNC109
    ) -> Any:
        grace = None if timeout is None else max(timeout, 0.0) + 1.0
        return await real_next_msg(self, grace)

    monkeypatch.setattr(Subscription, "next_msg", answer_before_the_timer)
    # What is tested is FastStream's supervisor at work: on, whatever the caller's shell says
    # (benchmarks turn it off; a test run inheriting that would wait for a restart in vain).
    monkeypatch.setenv("FASTSTREAM_SUPERVISOR_DISABLED", "0")
    broker = build_broker(nats_server.url)

    async def handle(_event: PromptSentV1, _delivery: Delivery) -> str:
        return "ok"

    EventConsumer(
        ConsumerSpec("test-prompt-sent", PromptSentV1), handle, RecordingPublisher()
    ).subscribe(broker)
    await broker.connect()
    await ensure_streams(broker.config.connection_state.stream, 1)
    await broker.start()
    try:
        # nats-py asks for the deadline once a pull request was answered: within its 5 s.
        await eventually(lambda: len(calls) >= 2, timeout_s=30)  # failed once, pulled again
        await asyncio.sleep(0.1)
    finally:
        await broker.stop()


async def test_an_idle_pull_timeout_is_not_an_error(
    nats_server: EmbeddedNatsServer, monkeypatch: pytest.MonkeyPatch, service_logs: io.StringIO
) -> None:
    await _idle_consumer_with_one_failed_fetch(nats_server, monkeypatch, TimeoutError())
    entries = json_lines(service_logs.getvalue())
    assert [e for e in entries if e["level"] in ("ERROR", "CRITICAL")] == []
    assert "Traceback" not in service_logs.getvalue()


async def test_any_other_failure_of_the_pull_loop_stays_an_error(
    nats_server: EmbeddedNatsServer, monkeypatch: pytest.MonkeyPatch, service_logs: io.StringIO
) -> None:
    await _idle_consumer_with_one_failed_fetch(nats_server, monkeypatch, RuntimeError("boom"))
    errors: list[dict[str, Any]] = [
        e for e in json_lines(service_logs.getvalue()) if e["level"] == "ERROR"
    ]
    assert [(e["logger"], e["exc_type"]) for e in errors] == [("faststream.nats", "RuntimeError")]
    assert "Traceback" in errors[0]["exc_info"]
