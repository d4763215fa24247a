"""Whether the send queue holds more due work than the dispatcher claims at a time: then the
notifier stops taking due events in until it has caught up (backpressure).

At 09:00 on a Monday every member's ritual is due at once. Taking all of those events in first
(a database row each) while sending took the same CPU away from sending: on a 2-core machine
with 1,000 due events a second arriving, the notifier handed over a sixth of what it sends
with nothing arriving, so the first prompts of a burst waited for the last events to be
recorded. While the dispatcher's last claim was a full batch there is at least a batch more
to send; the due events then wait in the stream, which holds them durably (its consumer's
pending count is the backlog operators see), and are pulled as soon as a claim comes back
short. The dispatcher always has a batch ready, and nothing waits that could be sent.

Only due work counts: a delivery deferred by quiet hours, a retry or a paused channel is not
claimed, so it never holds the ingest back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

# How long one wait for room lasts before the consumer looks at its stop signal again.
ROOM_WAIT_S = 1.0


class SendBacklog:
    def __init__(self, on_change: Callable[[bool], None] | None = None) -> None:
        self._room = asyncio.Event()
        self._room.set()
        self._on_change = on_change

    @property
    def deep(self) -> bool:
        """The last claim was a full batch (and the dispatcher is still running)."""
        return not self._room.is_set()

    def claimed(self, count: int, batch_size: int) -> None:
        self._set_deep(count >= batch_size)

    def dispatcher_stopped(self) -> None:
        """No dispatcher to catch up: nothing is held back on its account."""
        self._set_deep(False)

    async def room_for_more(self, wait_s: float = ROOM_WAIT_S) -> bool:
        """Whether due events may be taken in now; waits up to ``wait_s`` for room."""
        if self._room.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), wait_s)
        return self._room.is_set()

    def _set_deep(self, deep: bool) -> None:
        if deep == self.deep:
            return
        if deep:
            self._room.clear()
        else:
            self._room.set()
        if self._on_change is not None:
            self._on_change(deep)
