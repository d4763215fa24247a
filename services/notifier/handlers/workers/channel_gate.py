"""Per channel: whether its provider is believed up, paused, or to be probed first.

When a provider fails as a whole (unreachable, timing out, 429, 5xx, our credentials refused),
its channel pauses until that message's retry: the rest of its queue waits with it, uncounted,
instead of paying a timeout each. When the pause ends, and when the process starts, one
message goes first, alone (a probe); the rest of the channel follows at full concurrency once
the provider has answered it. So a provider that is down costs one attempt per pause, not one
per message in flight; one that fails while trusted costs at most the hand-overs already under
way (``max_in_doubt``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime


class ChannelGate:
    def __init__(self) -> None:
        self.trusted = False
        self.paused_until: datetime | None = None
        self.probing = asyncio.Lock()

    def paused(self, now: datetime) -> datetime | None:
        """Until when the channel is paused, if it is at ``now``."""
        until = self.paused_until
        return until if until is not None and now < until else None

    def provider_answered(self) -> None:
        self.trusted = True

    def provider_down(self, until: datetime) -> None:
        self.trusted = False
        self.paused_until = max(until, self.paused_until or until)
