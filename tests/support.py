"""Helpers the tests share: waiting for asynchronous outcomes, and a tap on every NATS message."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], timeout_s: float = ..., interval_s: float = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T], timeout_s: float = ..., interval_s: float = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    timeout_s: float = 15.0,
    interval_s: float = 0.02,
) -> Any:
    """Poll ``probe`` until it returns something truthy (processing is asynchronous).

    This waits for messages to flow, never for a schedule: schedules move on the ManualClock.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s (last: {result!r})")
        await asyncio.sleep(interval_s)


@dataclass(frozen=True)
class Tapped:
    subject: str
    data: bytes
    headers: dict[str, str]
    reply: str

    @property
    def is_jetstream_delivery(self) -> bool:
        """A stream delivering a stored message to a consumer (not a new publication)."""
        return self.reply.startswith("$JS.ACK.")

    def text(self) -> str:
        header_text = " ".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.subject} {header_text} {self.data.decode(errors='replace')}"


class NatsTap:
    """Subscribes to ``>`` on core NATS: sees every message any client publishes."""

    def __init__(self) -> None:
        self.messages: list[Tapped] = []
        self._client: Client | None = None

    async def start(self, url: str) -> None:
        self._client = await nats.connect(url)

        async def record(msg: Msg) -> None:
            self.messages.append(
                Tapped(msg.subject, msg.data, dict(msg.headers or {}), msg.reply or "")
            )

        await self._client.subscribe(">", cb=record)
        await self._client.flush()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.drain()

    def on(self, subject: str) -> list[Tapped]:
        """Publications on ``subject`` (deliveries of stored messages to consumers excluded)."""
        return [m for m in self.messages if m.subject == subject and not m.is_jetstream_delivery]
