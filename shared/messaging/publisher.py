"""Publishing events to JetStream with their deterministic id as ``Nats-Msg-Id``."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from faststream.nats import NatsBroker
from opentelemetry import context as otel_context

from shared.contracts.base import Event
from shared.streams import RESPONSES, stream_for_subject

MSG_ID_HEADER = "Nats-Msg-Id"


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Publish and wait for the stream's acknowledgement; raise if it did not come."""
        ...


# Subject, body, headers: a message as it goes on the wire.
RawMessage = tuple[str, bytes, dict[str, str]]


class RawPublisher(Protocol):
    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Publish bytes to a stream subject and wait for the stream's acknowledgement."""
        ...


class BatchPublisher(RawPublisher, Protocol):
    async def publish_many(self, messages: Sequence[RawMessage]) -> None:
        """Publish them all, side by side; return once the stream acknowledged every one,
        raise if any failed (those that did get through are duplicates it absorbs later)."""
        ...


def encode_event(event: Event) -> tuple[str, bytes, dict[str, str]]:
    """Subject, body and headers of an event as it goes on the wire."""
    return (
        event.subject,
        event.model_dump_json().encode(),
        {MSG_ID_HEADER: event.event_id, "content-type": "application/json"},
    )


# Publishes in flight at once: as many as the outbox relay's batch, so no acknowledgement waits
# behind thousands of others for longer than its timeout on a busy event loop.
PUBLISH_CHUNK = 500


async def publish_events_now(
    publisher: BatchPublisher, events: Sequence[Event], trace: dict[str, str]
) -> None:
    """Publish events straight away (no outbox), ``PUBLISH_CHUNK`` side by side at a time,
    each with its id as ``Nats-Msg-Id`` and, unless it is for insights, the ``trace`` headers;
    return once the stream acknowledged every one. For a caller that commits its state only
    afterwards, so a crash in between republishes the same ids (dropped by the stream's
    duplicate window)."""
    messages: list[RawMessage] = []
    for event in events:
        subject, body, headers = encode_event(event)
        if not crosses_anonymity_line(subject):
            headers = trace | headers
        messages.append((subject, body, headers))
    for start in range(0, len(messages), PUBLISH_CHUNK):
        await publisher.publish_many(messages[start : start + PUBLISH_CHUNK])


def crosses_anonymity_line(subject: str) -> bool:
    """Events for insights: nothing may link them to the identified events around them, a
    trace id included (see "Privacy" in the README)."""
    return stream_for_subject(subject) is RESPONSES


@contextlib.contextmanager
def outside_any_trace() -> Iterator[None]:
    """The block runs with no current span: a publish in it starts a trace of its own."""
    token = otel_context.attach(otel_context.Context())
    try:
        yield
    finally:
        otel_context.detach(token)


class JetStreamPublisher:
    """Publishes through FastStream's broker, always to a stream (so a PubAck is awaited).

    ``on_published(subject, count)`` is told of the publishes the stream acknowledged (metrics)."""

    def __init__(
        self,
        broker: NatsBroker,
        timeout_s: float = 5.0,
        on_published: Callable[[str, int], None] | None = None,
    ) -> None:
        self._broker = broker
        self._timeout_s = timeout_s
        self._on_published = on_published

    async def publish(self, event: Event) -> None:
        subject, body, headers = encode_event(event)
        await self.publish_raw(subject, body, headers)

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        # FastStream sets no Nats-Msg-Id of its own: the header carries our deterministic id.
        anonymous = crosses_anonymity_line(subject)
        with outside_any_trace() if anonymous else contextlib.nullcontext():
            await self._broker.publish(
                payload,
                subject,
                headers=headers,
                stream=stream_for_subject(subject).name,
                timeout=self._timeout_s,
            )
        if self._on_published is not None:
            self._on_published(subject, 1)

    async def publish_many(self, messages: Sequence[RawMessage]) -> None:
        """Publish side by side and wait for every acknowledgement; raise if one failed.

        Straight through nats-py's JetStream context, not FastStream's broker: its telemetry
        and Prometheus middlewares cost four times the publish itself per message, and the
        outbox relay sends a whole burst this way. The trace headers a message carries
        (``traceparent``, staged with it) still continue the staging trace downstream, and
        ``on_published`` still counts each (``rituals_published_total``)."""
        jetstream = self._broker.config.connection_state.stream
        await asyncio.gather(
            *(
                jetstream.publish(
                    subject,
                    payload,
                    timeout=self._timeout_s,
                    stream=stream_for_subject(subject).name,
                    headers=headers,
                )
                for subject, payload, headers in messages
            )
        )
        if self._on_published is not None:
            for subject, count in collections.Counter(m[0] for m in messages).items():
                self._on_published(subject, count)


class RecordingPublisher:
    """An in-memory publisher for unit tests of handlers."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.raw: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        self.raw.append((subject, payload, headers))

    async def publish_many(self, messages: Sequence[RawMessage]) -> None:
        self.raw.extend(messages)

    def of_type(self, kind: type[Event]) -> Sequence[Event]:
        return [event for event in self.events if isinstance(event, kind)]
