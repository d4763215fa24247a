"""Read every message a stream holds, in order, without disturbing its consumers.

An ordered push consumer (ephemeral, no acks, flow-controlled) from the first message until the
server says none is pending: erasure scrubs, tombstone replays and the privacy tests use it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from shared.streams import StreamSpec


@dataclass(frozen=True)
class StoredMessage:
    sequence: int
    subject: str
    data: bytes
    headers: dict[str, str]
    stored_at: datetime


async def scan_stream(
    js: JetStreamContext,
    stream: StreamSpec,
    subject: str | None = None,
    idle_timeout_s: float = 10.0,
) -> AsyncGenerator[StoredMessage, None]:
    """Yield the stream's messages (on ``subject`` if given), oldest first."""
    pattern = subject or stream.subjects[0]
    info = await js.stream_info(stream.name, subjects_filter=pattern)
    if info.state.messages == 0 or not info.state.subjects:
        return
    subscription = await js.subscribe(
        pattern,
        stream=stream.name,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
        idle_heartbeat=1.0,
        flow_control=True,
    )
    try:
        while True:
            try:
                msg = await subscription.next_msg(timeout=idle_timeout_s)
            except TimeoutError:
                return  # what matched was deleted or expired meanwhile
            metadata = msg.metadata
            yield StoredMessage(
                metadata.sequence.stream,
                msg.subject,
                msg.data,
                dict(msg.headers or {}),
                metadata.timestamp,
            )
            if metadata.num_pending == 0:
                return
    finally:
        await subscription.unsubscribe()
