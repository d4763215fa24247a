"""Publishing events to JetStream with their deterministic id as ``Nats-Msg-Id``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faststream.nats import NatsBroker

from shared.contracts.base import Event
from shared.streams import stream_for_subject

MSG_ID_HEADER = "Nats-Msg-Id"


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Publish and wait for the stream's acknowledgement; raise if it did not come."""
        ...


class RawPublisher(Protocol):
    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Publish bytes to a stream subject and wait for the stream's acknowledgement."""
        ...


def encode_event(event: Event) -> tuple[str, bytes, dict[str, str]]:
    """Subject, body and headers of an event as it goes on the wire."""
    return (
        event.subject,
        event.model_dump_json().encode(),
        {MSG_ID_HEADER: event.event_id, "content-type": "application/json"},
    )


class JetStreamPublisher:
    """Publishes through FastStream's broker, always to a stream (so a PubAck is awaited)."""

    def __init__(self, broker: NatsBroker, timeout_s: float = 5.0) -> None:
        self._broker = broker
        self._timeout_s = timeout_s

    async def publish(self, event: Event) -> None:
        subject, body, headers = encode_event(event)
        await self.publish_raw(subject, body, headers)

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        # FastStream sets no Nats-Msg-Id of its own: the header carries our deterministic id.
        await self._broker.publish(
            payload,
            subject,
            headers=headers,
            stream=stream_for_subject(subject).name,
            timeout=self._timeout_s,
        )


class RecordingPublisher:
    """An in-memory publisher for unit tests of handlers."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.raw: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        self.raw.append((subject, payload, headers))

    def of_type(self, kind: type[Event]) -> Sequence[Event]:
        return [event for event in self.events if isinstance(event, kind)]
