"""Batches pulled from a durable JetStream consumer through one inbox subscription.

nats-py's ``PullSubscription.fetch`` waits for every message of a batch with a task, a uuid and
a timer of its own (``Subscription.next_msg``): at 500 messages a batch that was most of the cost
of insights' ingest (bench/insights.py measured a bare pull-and-ack at ~17,000/s that way and
~48,000/s this way, on the same machine in the same run). Here the server's messages land in a
list from the subscription's callback, and a pull is over when its batch is full or the server
ends the request with a status (404 no messages, 408 expired; anything else, say a 409 while
a clustered consumer changes leader, is logged and the next pull waits a moment).

One pull request is outstanding at a time; a fetch that hands out what has arrived before the
request ended (``linger_s``) leaves it open for the next fetch. Messages that arrive after a
fetch returned (or gave up waiting, say a reconnect lost the server's 408) are kept and handed
out by the next fetch: they are delivered messages whose ack wait is running, never dropped.
The consumer's ``max_ack_pending`` bounds how many can pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

STATUS_HEADER = "Status"
HEARTBEAT = "100"
REQUEST_ENDED = frozenset({"404", "408"})  # no messages / expired: ask again at once
NO_RESPONDERS = "503"  # the consumer (or JetStream) is not there
GRACE_S = 1.0  # beyond the request's own expiry, before the client stops waiting
PAUSE_S = 1.0  # after a request the server refused, so a lasting refusal is not a busy loop


class BatchPull:
    """Pull batches from ``durable`` on ``stream``, creating the consumer with ``config`` if
    it does not exist (an existing one is used as it is, like nats-py's ``pull_subscribe``)."""

    def __init__(
        self,
        client: Callable[[], Client],
        stream: str,
        subject: str,
        config: ConsumerConfig,
    ) -> None:
        if config.durable_name is None:
            raise ValueError("a batch pull needs a durable consumer")
        self._client = client
        self._stream = stream
        self._subject = subject
        self._config = config
        self._durable = config.durable_name
        self._subscription: Subscription | None = None
        self._consumer_known = False
        self._inbox = ""
        self._arrived: list[Msg] = []
        self._wanted = 0
        self._received = 0
        self._open = False  # a pull request the server has not ended yet
        self._deadline = 0.0
        self._ended = asyncio.Event()
        self._activity = asyncio.Event()
        self._refused = False

    async def fetch(self, batch: int, wait_s: float, linger_s: float | None = None) -> list[Msg]:
        """Up to ``batch`` messages; fewer (or none) if the stream has no more within
        ``wait_s``. With ``linger_s``, what has arrived is handed out as soon as nothing more
        has come for that long (a lone event does not wait for a batch to fill; the pull
        stays open for the next call). Raises what the connection raises when it is down."""
        if not self._arrived:
            if not self._open:
                await self._request(batch, wait_s)
            await self._gather(linger_s)
            if self._refused and not self._arrived:
                await asyncio.sleep(min(PAUSE_S, wait_s))
        taken, self._arrived = self._arrived[:batch], self._arrived[batch:]
        return taken

    async def _gather(self, linger_s: float | None) -> None:
        loop = asyncio.get_running_loop()
        while not self._ended.is_set():
            remaining = self._deadline - loop.time()
            if remaining <= 0:  # the server's end of the request never came (a reconnect)
                self._open = False
                return
            if linger_s is not None and self._arrived:
                before = len(self._arrived)
                await self._activity_within(min(linger_s, remaining))
                if len(self._arrived) == before:
                    return  # quiet: hand out what came
            else:
                await self._activity_within(remaining)

    async def _activity_within(self, timeout_s: float) -> None:
        self._activity.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._activity.wait(), timeout=timeout_s)

    async def close(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def ensure_consumer(self) -> None:
        """Create the durable consumer now if it does not exist (else the first fetch does)."""
        if self._consumer_known:
            return
        jetstream = self._client().jetstream()
        try:
            await jetstream.consumer_info(self._stream, self._durable)
        except NotFoundError:
            await jetstream.add_consumer(
                self._stream, dataclasses.replace(self._config, filter_subject=self._subject)
            )
        self._consumer_known = True

    async def _request(self, batch: int, wait_s: float) -> None:
        await self.ensure_consumer()
        client = self._client()
        if self._subscription is None:
            self._inbox = client.new_inbox()
            self._subscription = await client.subscribe(self._inbox, cb=self._on_message)
        self._wanted = batch
        self._received = 0
        self._ended.clear()
        self._refused = False
        self._open = True
        self._deadline = asyncio.get_running_loop().time() + wait_s + GRACE_S
        request = {"batch": batch, "expires": int(wait_s * 1_000_000_000)}
        await client.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._durable}",
            json.dumps(request).encode(),
            reply=self._inbox,
        )

    async def _on_message(self, msg: Msg) -> None:
        status = (msg.headers or {}).get(STATUS_HEADER)
        if status == HEARTBEAT:
            return
        self._activity.set()
        if status is None:
            self._arrived.append(msg)
            self._received += 1
            if self._received >= self._wanted:
                self._end()
            return
        if status not in REQUEST_ENDED:
            self._refused = True
            if status == NO_RESPONDERS:  # the consumer went away (a stream re-created)
                self._consumer_known = False
            log.warning("pull %s refused with status %s", self._durable, status)
        self._end()

    def _end(self) -> None:
        self._open = False
        self._ended.set()
