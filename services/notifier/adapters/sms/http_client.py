"""What the HTTP SMS adapters share: one pooled session each, and one reading of statuses.

One ``aiohttp.ClientSession`` per provider for the life of the service: measured here
(bench/http_clients.py), aiohttp with 32 pooled connections serves over ten times the requests
a second of httpx with 1 or 32 connections, and a new connection per message is slower still.

Statuses: 429 and 5xx are transient (with the provider's Retry-After, when it gives seconds);
408 and transport errors too. 401/403 mean *our* credentials were refused: transient, so that
messages survive until an operator fixes the configuration, and reported as ``unauthorized``.
Every other 4xx is permanent unless the adapter knows better from the provider's error code.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp

from services.notifier.adapters.sms.base import SmsFailureReason, SmsSendFailed


class PooledSession:
    """An ``aiohttp.ClientSession`` over a bounded connection pool, opened by ``start()``."""

    def __init__(
        self,
        *,
        connection_limit: int,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if connection_limit < 1:
            raise ValueError("connection_limit must be at least 1")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        self._connection_limit = connection_limit
        self._timeout_s = timeout_s
        self._headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise RuntimeError("SMS sender not started: use `async with` or await start()")
        return self._session

    async def start(self) -> None:
        """Open the pool (idempotent). Needs a running event loop, hence not in ``__init__``."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                headers=self._headers,
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class PooledSender:
    """Start/close and ``async with`` for the senders that talk HTTP through ``_http``."""

    _http: PooledSession

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def basic_auth_header(login: str, password: str) -> str:
    """An Authorization header value for HTTP basic auth (RFC 7617, UTF-8)."""
    # Built by hand: aiohttp deprecates BasicAuth and its replacement exists only from 3.14.
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def failure_for_status(
    status: int,
    retry_after: str | None,
    *,
    client_error: SmsFailureReason = SmsFailureReason.REJECTED,
    provider_code: int | None = None,
) -> SmsSendFailed:
    """The failure a non-2xx ``status`` means; ``client_error`` is the reason for a plain 4xx."""
    hint = retry_after_seconds(retry_after)
    if status == 429:
        reason, permanent = SmsFailureReason.RATE_LIMITED, False
    elif status == 408:
        reason, permanent = SmsFailureReason.TIMEOUT, False
    elif status in (401, 403):
        reason, permanent = SmsFailureReason.UNAUTHORIZED, False
    elif 400 <= status < 500:
        reason, permanent = client_error, True
    else:
        # 5xx, and anything a messages API should never answer (3xx: we do not follow them).
        reason, permanent = SmsFailureReason.SERVER_ERROR, False
    return SmsSendFailed(
        status,
        permanent,
        reason,
        retry_after_s=None if permanent else hint,
        provider_code=provider_code,
    )


def transport_failure(error: BaseException) -> SmsSendFailed:
    """A request that got no HTTP answer: the provider may or may not have the message."""
    if isinstance(error, TimeoutError):
        return SmsSendFailed(None, False, SmsFailureReason.TIMEOUT)
    return SmsSendFailed(None, False, SmsFailureReason.CONNECTION_ERROR)


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as delta-seconds; None if absent or not a non-negative number of seconds.

    (The HTTP-date form would need the clock and no SMS provider we know sends it.)
    """
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


async def json_or_none(response: aiohttp.ClientResponse) -> Any:
    """The response body as JSON, or None if it is not JSON."""
    try:
        return await response.json(content_type=None)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
