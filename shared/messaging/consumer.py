"""Durable JetStream consumption with the ack policy chosen on purpose.

FastStream's default for NATS terminates a message whose handler raises, which loses it. Here
every outcome is explicit:

* the body does not parse or validate  -> dead-letter with the reason, ``term``;
* the handler raises ``PermanentError``  -> dead-letter with the reason, ``term``;
* the handler raises anything else       -> ``nak`` with an exponential, jittered delay that we
  compute (a plain nak would ignore the consumer's backoff), and dead-letter once the attempts
  are spent;
* a message delivered more often than the limit (say the handler crashed the process each time)
  is dead-lettered before the handler sees it again;
* otherwise ``ack``.

A dead-letter is published to JetStream and acknowledged by the stream *before* the original is
terminated, so nothing is lost between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from shared.contracts.base import Event
from shared.messaging.publisher import MSG_ID_HEADER, RawPublisher
from shared.messaging.pull import BatchPull
from shared.streams import stream_for_subject
from shared.subjects import dead_letter_subject

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

REASON_HEADER = "Dead-Letter-Reason"
BATCH_WAIT_S = 0.5
# A batch is handed over once nothing more has arrived for this long: a lone event is handled
# at once, a flood still fills whole batches (its messages come in the same socket reads).
BATCH_LINGER_S = 0.002
MAX_REASON_LENGTH = 400


class PermanentError(Exception):
    """This message can never succeed: dead-letter it at once.

    The message must be safe to log and to put in a header: no contact data, no free text.
    """


class TransientError(Exception):
    """Worth another try later. The message must be safe to log (see ``PermanentError``)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded; after ``max_attempts`` deliveries, dead-letter."""

    max_attempts: int = 8
    base_delay_s: float = 5.0
    max_delay_s: float = 900.0

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before the attempt after ``attempt``: half fixed, half random ("equal jitter")."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempt - 1))
        return float(ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Delivery:
    """What a handler may want to know about the delivery it is handling."""

    attempt: int
    max_attempts: int
    stream_sequence: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


@dataclass(frozen=True)
class ConsumerSpec(Generic[E]):
    durable: str
    model: type[E]
    retry: RetryPolicy = RetryPolicy()
    batch_size: int = 32
    ack_wait_s: float = 60.0
    # Batches being stored at once (BatchEventConsumer), each in its own transaction: more
    # than one only where writers do not serialise on one lock (PostgreSQL, not SQLite).
    stores_in_flight: int = 1


Handler = Callable[[E, Delivery], Awaitable[object]]
BatchHandler = Callable[[list[E]], Awaitable[object]]


class Message(Protocol):
    """What the consumer needs of a delivered message (FastStream's, or one of a batch)."""

    @property
    def raw_message(self) -> Msg: ...

    @property
    def body(self) -> Any: ...

    @property
    def headers(self) -> Any: ...

    async def ack(self) -> None: ...

    async def nack(self, delay: float | None = None) -> None: ...

    async def reject(self) -> None: ...


class _OneOfABatch:
    """A message of a batch pull, with the few operations ``EventConsumer`` uses."""

    def __init__(self, raw: Msg) -> None:
        self.raw_message = raw
        self.body = raw.data
        self.headers = raw.headers or {}

    async def ack(self) -> None:
        await self.raw_message.ack()

    async def nack(self, delay: float | None = None) -> None:
        await self.raw_message.nak(delay=delay)

    async def reject(self) -> None:
        await self.raw_message.term()


_V1_ACK_TOKENS = (
    9  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
)


def delivery_counts(raw: Msg) -> tuple[int, int]:
    """(deliveries so far, stream sequence) from a JetStream message's ack subject.

    The two numbers ``Msg.metadata`` would give, without the rest it builds for every message
    (a timestamp in a time zone, a dataclass, pending counts): at thousands of messages a second
    that was a tenth of the consumer's time."""
    if raw.reply is None or not raw.reply.startswith("$JS.ACK."):
        meta = raw.metadata  # raises nats-py's own NotJSMessageError
        return meta.num_delivered, meta.sequence.stream
    tokens = raw.reply.split(".")
    if len(tokens) == _V1_ACK_TOKENS:
        return int(tokens[4]), int(tokens[5])
    return int(tokens[Msg.Ack.NumDelivered]), int(tokens[Msg.Ack.StreamSeq])


def describe_validation_error(error: ValidationError, prefix: str = "invalid payload: ") -> str:
    """Where and how a payload is wrong, without echoing any of its values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(piece) for piece in item["loc"]) or "(body)"
        parts.append(f"{location}: {item['msg']}")
    return prefix + "; ".join(parts)


def safe_header_value(text: str) -> str:
    """One line, bounded: a header value can neither inject a header nor grow without bound."""
    flattened = " ".join(text.split())
    return flattened[:MAX_REASON_LENGTH]


def describe_unexpected(error: BaseException) -> str:
    # Only the type: messages of library exceptions can quote rows or addresses.
    return f"unexpected {type(error).__name__}"


class EventConsumer(Generic[E]):
    """Wraps a handler ``(event, delivery) -> outcome`` with parsing, retries and dead-letters."""

    def __init__(
        self,
        spec: ConsumerSpec[E],
        handle: Handler[E],
        dead_letters: RawPublisher,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self._handle = handle
        self._dead_letters = dead_letters
        self._rng = rng or random.Random()
        self._subject = spec.model.subject
        self._stream = stream_for_subject(self._subject)

    def subscribe(self, broker: NatsBroker) -> None:
        """Register as a durable pull consumer on ``broker`` (horizontally scalable)."""

        async def on_message(msg: NatsMessage) -> None:
            await self.process(msg)

        async def keep_body_raw(msg: NatsMessage) -> bytes:
            # FastStream's default decoder json-parses every body before the handler runs, and a
            # payload nested deeper than the stdlib parser allows raised RecursionError there,
            # outside ``process``: the message was neither acked nor dead-lettered and came back
            # after every ack_wait. ``process`` validates the raw body itself, once.
            return bytes(msg.body)

        broker.subscriber(
            self._subject,
            stream=JStream(self._stream.name, declare=False),
            durable=self.spec.durable,
            pull_sub=PullSub(batch_size=self.spec.batch_size, timeout=5.0),
            ack_policy=AckPolicy.MANUAL,
            config=self._consumer_config(),
            title=f"{self.spec.durable}:{self._subject}",
            decoder=keep_body_raw,
        )(on_message)

    def _consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.spec.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=JsAckPolicy.EXPLICIT,
            ack_wait=self.spec.ack_wait_s,
            # Unlimited at the server: we count deliveries ourselves and dead-letter, so a
            # message never sits stranded after a server-side max_deliver.
            max_deliver=-1,
            max_ack_pending=self.spec.batch_size * 4,
        )

    async def process(self, msg: Message) -> None:
        admitted = await self._admit(msg)
        if admitted is not None:
            await self._handle_one(msg, *admitted)

    async def _admit(self, msg: Message) -> tuple[Delivery, E] | None:
        """The delivery and its event, or None when the message was dead-lettered instead
        (delivered too often, or not a valid event)."""
        attempt, stream_sequence = delivery_counts(msg.raw_message)
        delivery = Delivery(
            attempt=attempt,
            max_attempts=self.spec.retry.max_attempts,
            stream_sequence=stream_sequence,
        )
        if delivery.attempt > delivery.max_attempts:
            await self._dead_letter(msg, delivery, f"gave up after {delivery.attempt - 1} tries")
            return None
        try:
            return delivery, self.spec.model.model_validate_json(msg.body)
        except ValidationError as error:
            await self._dead_letter(msg, delivery, describe_validation_error(error))
            return None

    async def _handle_one(self, msg: Message, delivery: Delivery, event: E) -> None:
        try:
            outcome = await self._handle(event, delivery)
        except PermanentError as error:
            await self._dead_letter(msg, delivery, f"rejected: {error}")
            return
        except Exception as error:
            await self._retry_or_give_up(msg, delivery, error)
            return
        await msg.ack()
        log.debug("handled %s %s: %s", self._subject, event.event_id, outcome)

    async def _retry_or_give_up(self, msg: Message, delivery: Delivery, error: Exception) -> None:
        reason = str(error) if isinstance(error, TransientError) else describe_unexpected(error)
        if delivery.is_last_attempt:
            await self._dead_letter(msg, delivery, f"retries exhausted: {reason}")
            return
        delay = self.spec.retry.delay_s(delivery.attempt, self._rng)
        if isinstance(error, TransientError) and error.retry_after_s is not None:
            delay = max(delay, error.retry_after_s)
        log.warning(
            "retrying %s seq=%s attempt=%s in %.1fs: %s",
            self._subject,
            delivery.stream_sequence,
            delivery.attempt,
            delay,
            reason,
        )
        await msg.nack(delay=delay)

    async def _dead_letter(self, msg: Message, delivery: Delivery, reason: str) -> None:
        reason = safe_header_value(reason)
        headers = {
            # Deterministic: dead-lettering the same message twice stores it once.
            MSG_ID_HEADER: f"dl-{self._stream.name}-{delivery.stream_sequence}",
            REASON_HEADER: reason,
            "Dead-Letter-Subject": self._subject,
            "Dead-Letter-Consumer": self.spec.durable,
            "Dead-Letter-Stream": self._stream.name,
            "Dead-Letter-Stream-Seq": str(delivery.stream_sequence),
            "Dead-Letter-Deliveries": str(delivery.attempt),
        }
        original_id = (msg.headers or {}).get(MSG_ID_HEADER)
        if original_id:
            headers["Dead-Letter-Original-Msg-Id"] = safe_header_value(original_id)[:128]
        try:
            await self._dead_letters.publish_raw(
                dead_letter_subject(self._subject), msg.body, headers
            )
        except Exception as error:
            # Not stored as a dead letter, so do not drop it: try the whole thing again later.
            log.error("dead-letter publish failed (%s); will retry", describe_unexpected(error))
            await msg.nack(delay=self.spec.retry.delay_s(delivery.attempt, self._rng))
            return
        log.warning(
            "dead-lettered %s seq=%s after %s deliveries: %s",
            self._subject,
            delivery.stream_sequence,
            delivery.attempt,
            reason,
        )
        await msg.reject()


class BatchEventConsumer(EventConsumer[E]):
    """An ``EventConsumer`` that takes up to ``spec.batch_size`` messages at a time and hands the
    valid ones to ``handle_batch`` together (one transaction for a whole batch: the way to
    thousands of events a second). Same promises per message: each invalid or over-delivered
    message is dead-lettered alone; if the batch fails transiently, each is retried with its own
    backoff; if it fails permanently, the batch is handled one event at a time with ``handle``,
    so only the bad one is dead-lettered.

    It pulls by itself (``BatchPull``), as a background loop of the service (``run``), not
    through FastStream: FastStream 0.7's batch pull lost the messages of a batch it was still
    filling when nats-py's fetch timed out (it catches ``nats.errors.TimeoutError``, nats-py
    raised ``asyncio.TimeoutError``), and they came back only after the ack wait; and
    nats-py's own fetch spends a task and a timer on every message.

    ``room_for_more``, if given, is asked before each pull: while it answers False (after a
    wait of its own) nothing is pulled, so the messages wait in the stream, unfetched and with
    no ack timer running (backpressure from the work the batches create).
    """

    def __init__(
        self,
        spec: ConsumerSpec[E],
        handle: Handler[E],
        handle_batch: BatchHandler[E],
        dead_letters: RawPublisher,
        client: Callable[[], Client],
        rng: random.Random | None = None,
        room_for_more: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        super().__init__(spec, handle, dead_letters, rng)
        self._handle_batch = handle_batch
        self._room_for_more = room_for_more
        self._puller = BatchPull(client, self._stream.name, self._subject, self._consumer_config())

    def subscribe(self, broker: NatsBroker) -> None:
        raise TypeError("a BatchEventConsumer runs as a background loop: use run()")

    async def bind(self) -> None:
        """Create the durable consumer if it does not exist yet, so that it is there once the
        service has started (as FastStream's subscribers are), not at the loop's first pull."""
        await self._puller.ensure_consumer()

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and handle batches until ``stop`` is set (``ServiceRuntime.background``).

        Stages side by side: while up to ``spec.stores_in_flight`` batches are stored, the next
        is pulled, parsed and validated (one pull outstanding at a time), so the event loop's
        own work overlaps the database's. On stop, the batches being stored finish (commit,
        then ack); a batch pulled but not stored comes back after the ack wait (idempotent,
        like any redelivery).
        """
        slots = asyncio.Semaphore(self.spec.stores_in_flight)
        storing: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            storing.discard(task)
            slots.release()
            error = None if task.cancelled() else task.exception()
            if error is not None:
                # Not acked, so it comes back; the loop goes on (say the connection dropped).
                log.error("storing %s failed: %s", self._subject, describe_unexpected(error))

        try:
            while not stop.is_set():
                if self._room_for_more is not None and not await self._room_for_more():
                    continue
                ready = await self._take(stop)
                if not ready:
                    continue
                await slots.acquire()
                task = asyncio.create_task(self._store(ready))
                storing.add(task)
                task.add_done_callback(finished)
        finally:
            await asyncio.gather(*storing, return_exceptions=True)
            # Unsubscribed before the broker drains its connection, or the drain waits for it.
            await self._puller.close()

    async def _take(self, stop: asyncio.Event) -> list[tuple[Message, Delivery, E]]:
        return await self._admit_all([_OneOfABatch(raw) for raw in await self._pull(stop)])

    async def _pull(self, stop: asyncio.Event) -> list[Msg]:
        try:
            return await self._puller.fetch(
                self.spec.batch_size, wait_s=BATCH_WAIT_S, linger_s=BATCH_LINGER_S
            )
        except Exception as error:  # the connection is down: the client reconnects
            log.warning("pull %s failed: %s", self.spec.durable, type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            return []

    async def process_batch(self, msgs: list[Message]) -> None:
        await self._store(await self._admit_all(msgs))

    async def _admit_all(self, msgs: list[Message]) -> list[tuple[Message, Delivery, E]]:
        """The valid messages with their events; each invalid one is dead-lettered alone."""
        ready: list[tuple[Message, Delivery, E]] = []
        for msg in msgs:
            admitted = await self._admit(msg)
            if admitted is not None:
                ready.append((msg, *admitted))
        return ready

    async def _store(self, ready: list[tuple[Message, Delivery, E]]) -> None:
        if not ready:
            return
        try:
            outcome = await self._handle_batch([event for _, _, event in ready])
        except PermanentError:
            for msg, delivery, event in ready:
                await self._handle_one(msg, delivery, event)
            return
        except Exception as error:
            for msg, delivery, _ in ready:
                await self._retry_or_give_up(msg, delivery, error)
            return
        for msg, _, _ in ready:  # each ack only queues a publish: no task per message
            await msg.ack()
        log.debug("handled %s x%s: %s", self._subject, len(ready), outcome)
