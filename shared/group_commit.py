"""Group commit: many callers' writes in one transaction.

Each caller hands in an item and waits for its result; one flush at a time writes everything
handed in so far, in one transaction (``apply``), and answers every caller. While a flush
runs, new items gather for the next: under load the groups grow by themselves, and nobody
waits for a timer. A transaction's fixed cost (a round trip, a disk flush at commit) is then
paid once per group instead of once per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self, apply: Callable[[list[T]], Awaitable[Sequence[R]]], max_group: int = 1000
    ) -> None:
        """``apply`` writes a group in one transaction and returns one result per item, in
        order; if it raises, every caller of the group gets the exception."""
        self._apply = apply
        self._max_group = max_group
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
            try:
                results = await self._apply([item for item, _ in group])
            except asyncio.CancelledError:
                for _, future in (*group, *self._waiting):
                    future.cancel()
                self._waiting.clear()
                raise
            except Exception as error:
                for _, future in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():  # its caller may have been cancelled meanwhile
                    future.set_result(result)
