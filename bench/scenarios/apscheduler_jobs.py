"""The job APScheduler runs in the comparison: publish one event, as our outbox relay would.

APScheduler's SQLAlchemy job store keeps a job's function as a textual reference
(``PUBLISH_EVENT``) and its arguments pickled, so the function lives in a module of its own that
the job store's process can import; the JetStream context is the process's one connection,
handed over with ``use`` before the scheduler starts.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext

PUBLISH_EVENT = "bench.scenarios.apscheduler_jobs:publish_event"


class Publishing:
    """The process's connection, and its publishes still waiting for their acknowledgement."""

    def __init__(self, jetstream: JetStreamContext) -> None:
        self.jetstream = jetstream
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def wait_idle(self, timeout_s: float) -> None:
        """Stopping with publishes in flight would cancel them: an error per job in the log."""
        await asyncio.wait_for(self.idle.wait(), timeout_s)


_current: list[Publishing] = []


def use(jetstream: JetStreamContext) -> Publishing:
    _current[:] = [Publishing(jetstream)]
    return _current[0]


async def publish_event(subject: str, payload: bytes, event_id: str) -> None:
    """The same subject, body and headers as our relay's publish, acknowledged by the stream."""
    publishing = _current[0]
    publishing.in_flight += 1
    publishing.idle.clear()
    try:
        await publishing.jetstream.publish(
            subject,
            payload,
            headers={"Nats-Msg-Id": event_id, "content-type": "application/json"},
        )
    finally:
        publishing.in_flight -= 1
        if not publishing.in_flight:
            publishing.idle.set()
