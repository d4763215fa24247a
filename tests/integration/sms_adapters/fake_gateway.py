"""A generic JSON SMS gateway on 127.0.0.1, as the README's wire format describes one: it
accepts messages (answering with an id) and posts callbacks signed with HMAC-SHA256.

The signature is computed here with its own few lines, not with the notifier's code, so that
the tests hold the notifier to the documented format rather than to itself.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from shared.natsdev import free_port


@dataclass(frozen=True)
class GatewayMessage:
    id: str
    to: str
    body: str
    callback_url: str | None


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: dict[str, Any]


@dataclass
class FakeGateway:
    secret: str
    port: int = field(default_factory=free_port)
    messages: list[GatewayMessage] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/messages"

    def to(self, number: str) -> list[GatewayMessage]:
        return [message for message in self.messages if message.to == number]

    async def _accept(self, request: web.Request) -> web.Response:
        sent = await request.json()
        message = GatewayMessage(
            f"gw-{next(self._ids)}", sent["to"], sent["body"], sent["callback_url"]
        )
        self.messages.append(message)
        return web.json_response({"id": message.id}, status=202)

    def signed_headers(self, body: bytes, timestamp: int) -> dict[str, str]:
        signed = str(timestamp).encode() + b"." + body
        digest = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Gateway-Timestamp": str(timestamp),
            "X-Gateway-Signature": f"sha256={digest}",
        }

    async def post(
        self,
        url: str,
        document: dict[str, Any],
        timestamp: int,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """POST ``document`` to ``url``, signed for ``timestamp`` unless ``headers`` are given."""
        body = json.dumps(document).encode()
        sent_headers = self.signed_headers(body, timestamp) if headers is None else headers
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=body, headers=sent_headers) as answer,
        ):
            text = await answer.text()
            return Answer(answer.status, answer.content_type, json.loads(text) if text else {})

    async def __aenter__(self) -> FakeGateway:
        app = web.Application()
        app.router.add_post("/v1/messages", self._accept)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
