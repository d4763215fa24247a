"""The status-callback fast path answers what the route would, without the router: a
well-signed callback of the configured provider is applied there; anything else reaches the
app with its body intact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest
from starlette.types import Message, Receive, Scope, Send

from services.notifier.adapters.sms.base import SmsState, StatusReport, WebhookCall, WebhookRefused
from services.notifier.api.status_callbacks import StatusCallbackFastPath
from services.notifier.handlers.use_cases.provider_status import StatusDeps

BODY = b"MessageSid=SM1&MessageStatus=delivered"


class Webhooks:
    """A provider package's reader: signed when the header says so."""

    def read_status(self, call: WebhookCall) -> StatusReport:
        if call.headers.get("x-signature") != "good":
            raise WebhookRefused(403, "not signed by the provider")
        assert call.body == BODY
        message_id = "x" * 65 if call.headers.get("x-long") else "SM1"
        return StatusReport(message_id, SmsState.DELIVERED)


class InnerApp:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 499, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(path: str, headers: dict[str, str], method: str = "POST") -> Scope:
    context = SimpleNamespace(
        sms_providers={"twilio": Webhooks()},
        public_base_url="https://rituals.example",
        trust_forwarded_headers=False,
        statuses=cast(StatusDeps, None),
    )
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "https",
        "server": ("rituals.example", 443),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "app": SimpleNamespace(state=SimpleNamespace(webhooks=context)),
    }


async def call(fast_path: StatusCallbackFastPath, request_scope: Scope) -> list[Message]:
    sent: list[Message] = []
    chunks = [BODY[:10], BODY[10:]]

    async def receive() -> Message:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    await fast_path(request_scope, receive, send)
    return sent


def recorder() -> tuple[list[tuple[str, StatusReport]], Callable[..., Awaitable[str]]]:
    applied: list[tuple[str, StatusReport]] = []

    async def apply(_deps: Any, provider: str, report: StatusReport) -> str:
        applied.append((provider, report))
        return "recorded"

    return applied, apply


async def test_a_signed_status_callback_is_applied_without_the_app() -> None:
    inner = InnerApp()
    applied, apply = recorder()
    sent = await call(
        StatusCallbackFastPath(inner, apply),
        scope("/v1/webhooks/sms/twilio/status", {"x-signature": "good"}),
    )
    assert applied == [("twilio", StatusReport("SM1", SmsState.DELIVERED))]
    assert inner.bodies == []
    assert sent[0]["status"] == 204


@pytest.mark.parametrize(
    ("path", "headers", "method", "first_chunk"),
    [
        # Read by the fast path, refused: the app gets the body whole, in one message.
        ("/v1/webhooks/sms/twilio/status", {"x-signature": "forged"}, "POST", BODY),
        ("/v1/webhooks/sms/twilio/status", {"x-signature": "good", "x-long": "1"}, "POST", BODY),
        # Never read by it: the app reads the request as it came.
        ("/v1/webhooks/sms/nobody/status", {"x-signature": "good"}, "POST", BODY[:10]),
        ("/v1/webhooks/sms/twilio/inbound", {"x-signature": "good"}, "POST", BODY[:10]),
        ("/v1/webhooks/sms/twilio/x/status", {"x-signature": "good"}, "POST", BODY[:10]),
        ("/v1/webhooks/sms/twilio/status", {"x-signature": "good"}, "GET", BODY[:10]),
    ],
)
async def test_anything_else_reaches_the_app_with_its_body(
    path: str, headers: dict[str, str], method: str, first_chunk: bytes
) -> None:
    inner = InnerApp()
    applied, apply = recorder()
    sent = await call(StatusCallbackFastPath(inner, apply), scope(path, headers, method))
    assert applied == []
    assert sent[0]["status"] == 499
    assert inner.bodies == [first_chunk]
