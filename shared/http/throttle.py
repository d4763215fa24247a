"""Slow down whoever keeps presenting bad credentials.

A peer whose requests were answered 401 (bearer token) or 403 (a signed link or a webhook
signature that does not verify) more than ``max_failures`` times within ``window`` gets 429
with Retry-After for ``block``, before any route runs. The peer is the socket's address: no
proxy here is trusted to set X-Forwarded-For, so behind a proxy every client shares the proxy's
address (and its budget). IPv6 peers are counted per /64, the block one host usually holds.

State is per process and per listener (a public listener flooded through an ingress does not
lock operators out of theirs), in an LRU of at most ``max_peers`` entries, and on the injected
clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.clock import Clock
from shared.http.problems import send_problem

AUTH_FAILURES = frozenset({401, 403})
# Probes always answer: behind a sidecar or on a shared node address, a blocked address can be
# the kubelet's too, and a liveness probe answered 429 restarts a healthy service.
EXEMPT_PREFIX = "/health/"


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 20
    window: timedelta = timedelta(minutes=1)
    block: timedelta = timedelta(minutes=5)
    max_peers: int = 10_000


@dataclass
class _Peer:
    failures: deque[datetime]
    blocked_until: datetime | None = None


@dataclass
class AuthFailureTracker:
    policy: ThrottlePolicy
    clock: Clock
    _peers: OrderedDict[str, _Peer] = field(default_factory=OrderedDict)

    def retry_after(self, peer: str) -> float | None:
        """Seconds until ``peer`` may try again, or None if it is not blocked."""
        state = self._peers.get(peer)
        if state is None or state.blocked_until is None:
            return None
        remaining = (state.blocked_until - self.clock.now()).total_seconds()
        if remaining <= 0:
            state.blocked_until = None
            return None
        return remaining

    def record_failure(self, peer: str) -> None:
        now = self.clock.now()
        state = self._peers.get(peer)
        if state is None:
            state = _Peer(deque(maxlen=self.policy.max_failures + 1))
            self._peers[peer] = state
            if len(self._peers) > self.policy.max_peers:
                self._peers.popitem(last=False)  # the peer heard from least recently
        else:
            self._peers.move_to_end(peer)
        state.failures.append(now)
        if (
            len(state.failures) > self.policy.max_failures
            and now - state.failures[0] <= self.policy.window
        ):
            state.blocked_until = now + self.policy.block
            state.failures.clear()

    def __len__(self) -> int:
        return len(self._peers)


def peer_key(scope: Scope) -> str:
    client = scope.get("client")
    if not client:
        return "(unknown)"
    return _peer_of(str(client[0]))


# Every request pays this, and a provider's callbacks come from a few addresses: parsing each
# address once was 5% of the notifier's SMS burst.
@functools.lru_cache(maxsize=4096)
def _peer_of(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class ThrottleAuthFailures:
    def __init__(self, app: ASGIApp, tracker: AuthFailureTracker) -> None:
        self.app = app
        self.tracker = tracker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(EXEMPT_PREFIX):
            await self.app(scope, receive, send)
            return
        peer = peer_key(scope)
        wait = self.tracker.retry_after(peer)
        if wait is not None:
            await send_problem(
                send,
                429,
                "too many failed authentication attempts from this address; try again later",
                headers={"Retry-After": str(math.ceil(wait)), "Connection": "close"},
            )
            return

        async def observing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in AUTH_FAILURES:
                self.tracker.record_failure(peer)
            await send(message)

        await self.app(scope, receive, observing_send)
