"""HttpGatewaySender against a scripted JSON gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from services.notifier.adapters.sms.base import SmsFailureReason, SmsSendFailed
from services.notifier.adapters.sms.http_gateway import HttpGatewayConfig, HttpGatewaySender
from shared.natsdev import free_port

MEMBER = "+447700900123"


@dataclass(frozen=True)
class Reply:
    status: int = 202
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hangs: bool = False


@dataclass
class Gateway:
    port: int = field(default_factory=free_port)
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/messages"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        reply = self.replies.popleft() if self.replies else Reply(body={"id": "msg-1"})
        if reply.hangs:
            await self.released.wait()
        if reply.body is None:
            return web.Response(status=reply.status, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gateway = Gateway()
    app = web.Application()
    app.router.add_post("/v1/messages", gateway.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", gateway.port).start()
    yield gateway
    gateway.released.set()
    await runner.cleanup()


async def send(config: HttpGatewayConfig) -> str:
    async with HttpGatewaySender(config) as sender:
        accepted = await sender.send(MEMBER, "Hello", "https://cb.example/s?d=1", "delivery-1")
    return accepted.provider_message_id


async def test_the_message_is_posted_as_json_with_the_bearer_token(gateway: Gateway) -> None:
    gateway.replies.append(Reply(201, {"id": "gw-42", "status": "queued"}))
    message_id = await send(HttpGatewayConfig(gateway.url, bearer_token="t0ken"))

    assert message_id == "gw-42"
    [(headers, body)] = gateway.requests
    assert headers["Authorization"] == "Bearer t0ken"
    assert body == {
        "to": MEMBER,
        "body": "Hello",
        "callback_url": "https://cb.example/s?d=1",
        "reference": "delivery-1",
    }


async def test_without_a_token_no_authorization_is_sent(gateway: Gateway) -> None:
    await send(HttpGatewayConfig(gateway.url))
    [(headers, _)] = gateway.requests
    assert "Authorization" not in headers


async def test_the_id_field_is_configurable_and_numbers_are_accepted(gateway: Gateway) -> None:
    gateway.replies.append(Reply(200, {"message_id": 9876}))
    assert await send(HttpGatewayConfig(gateway.url, id_field="message_id")) == "9876"


@pytest.mark.parametrize(
    "body", [None, {}, {"id": ""}, {"id": None}, {"id": True}, ["gw-1"], "gw-1"]
)
async def test_accepted_without_an_id_is_an_invalid_response_not_retried(
    gateway: Gateway, body: Any
) -> None:
    gateway.replies.append(Reply(202, body))
    with pytest.raises(SmsSendFailed) as refused:
        await send(HttpGatewayConfig(gateway.url))
    assert (refused.value.reason, refused.value.permanent) == (
        SmsFailureReason.INVALID_RESPONSE,
        True,
    )


@pytest.mark.parametrize(
    ("reply", "reason", "permanent", "retry_after_s"),
    [
        (Reply(429, {}, {"Retry-After": "3"}), SmsFailureReason.RATE_LIMITED, False, 3.0),
        (Reply(503, None, {"Retry-After": "12"}), SmsFailureReason.SERVER_ERROR, False, 12.0),
        (Reply(500, {"error": "boom"}), SmsFailureReason.SERVER_ERROR, False, None),
        (Reply(401, {}), SmsFailureReason.UNAUTHORIZED, False, None),
        (Reply(400, {"error": "invalid_number"}), SmsFailureReason.INVALID_NUMBER, True, None),
        (
            Reply(409, {"error": "recipient_opted_out"}),
            SmsFailureReason.RECIPIENT_OPTED_OUT,
            True,
            None,
        ),
        (Reply(400, {"error": "+447700900123 is bad"}), SmsFailureReason.REJECTED, True, None),
        (Reply(422, None), SmsFailureReason.REJECTED, True, None),
    ],
)
async def test_refusals_are_classified(
    gateway: Gateway,
    reply: Reply,
    reason: SmsFailureReason,
    permanent: bool,
    retry_after_s: float | None,
) -> None:
    gateway.replies.append(reply)
    with pytest.raises(SmsSendFailed) as refused:
        await send(HttpGatewayConfig(gateway.url))
    failure = refused.value
    assert (failure.status, failure.reason, failure.permanent, failure.retry_after_s) == (
        reply.status,
        reason,
        permanent,
        retry_after_s,
    )
    assert MEMBER not in str(failure)


async def test_a_gateway_that_does_not_answer_times_out_as_transient(gateway: Gateway) -> None:
    gateway.replies.append(Reply(hangs=True))
    with pytest.raises(SmsSendFailed) as refused:
        await send(HttpGatewayConfig(gateway.url, timeout_s=0.2))
    assert (refused.value.reason, refused.value.permanent) == (SmsFailureReason.TIMEOUT, False)


def test_the_bearer_token_is_not_in_the_config_repr() -> None:
    assert "t0ken" not in repr(HttpGatewayConfig("https://gw.example", bearer_token="t0ken"))
