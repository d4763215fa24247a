"""The webhook routes' signature check (``verified_form``) over HTTP, against requests signed
by Twilio's own SDK: a form, a form repeating a value, and JSON bodies signed with bodySHA256."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI, Request
from multidict import MultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from services.notifier.api.webhooks import WebhookContext, verified_form

TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "https://rituals.example.org"
PATH = "/v1/webhooks/sms/status"
SDK = RequestValidator(TOKEN)
JSON_BODY = '{"MessageSid":"SM1","MessageStatus":"delivered"}'


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    unused = cast(Any, None)  # the check reads only the token and the URLs
    app.state.webhooks = WebhookContext(
        auth_token=TOKEN,
        public_base_url=BASE,
        trust_forwarded_headers=False,
        statuses=unused,
        answers=unused,
        reply_sender=unused,
        texts=unused,
        phone_region="GB",
    )

    @app.post(PATH)
    async def checked(request: Request) -> dict[str, str]:
        return await verified_form(request, request.app.state.webhooks)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def sdk_signature(url: str, pairs: list[tuple[str, str]]) -> str:
    signature: str = SDK.compute_signature(url, MultiDict(pairs))
    return signature


async def post_form(
    client: httpx.AsyncClient, pairs: list[tuple[str, str]], signature: str
) -> httpx.Response:
    return await client.post(
        PATH,
        content=urlencode(pairs),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


async def test_a_signed_form_is_read(client: httpx.AsyncClient) -> None:
    pairs = [("MessageSid", "SM1"), ("MessageStatus", "delivered"), ("ErrorCode", "")]
    response = await post_form(client, pairs, sdk_signature(BASE + PATH, pairs))
    assert response.status_code == 200, response.text
    assert response.json() == dict(pairs)


async def test_a_form_repeating_an_identical_value_is_accepted_as_the_sdk_accepts_it(
    client: httpx.AsyncClient,
) -> None:
    pairs = [("MessageSid", "SM1"), ("Digits", "1"), ("Digits", "1")]
    signature = sdk_signature(BASE + PATH, pairs)
    assert SDK.validate(BASE + PATH, MultiDict(pairs), signature)
    response = await post_form(client, pairs, signature)
    assert response.status_code == 200, response.text


async def test_a_forged_form_is_refused(client: httpx.AsyncClient) -> None:
    pairs = [("MessageSid", "SM1"), ("MessageStatus", "delivered")]
    signature = sdk_signature(BASE + PATH, [*pairs[:1], ("MessageStatus", "failed")])
    assert (await post_form(client, pairs, signature)).status_code == 403


async def post_json(
    client: httpx.AsyncClient, body: str, declared: str, signature: str
) -> httpx.Response:
    return await client.post(
        f"{PATH}?bodySHA256={declared}",
        content=body.encode(),
        headers={"Content-Type": "application/json", "X-Twilio-Signature": signature},
    )


async def test_a_json_body_signed_with_its_hash_passes_the_check_and_is_then_refused(
    client: httpx.AsyncClient,
) -> None:
    declared = SDK.compute_hash(JSON_BODY)
    signature = sdk_signature(f"{BASE}{PATH}?bodySHA256={declared}", [])
    response = await post_json(client, JSON_BODY, declared, signature)
    assert response.status_code == 415  # signed, but these routes read forms only


@pytest.mark.parametrize("tamper", ["body", "hash"])
async def test_a_json_body_that_does_not_match_its_signed_hash_is_refused(
    client: httpx.AsyncClient, tamper: str
) -> None:
    declared = SDK.compute_hash(JSON_BODY)
    body = JSON_BODY
    if tamper == "body":
        body = JSON_BODY.replace("delivered", "failed")
    else:  # a URL declaring another hash, validly signed (as if replayed from another call)
        declared = SDK.compute_hash('{"MessageSid":"SM2"}')
    signature = sdk_signature(f"{BASE}{PATH}?bodySHA256={declared}", [])
    assert not SDK.validate(f"{BASE}{PATH}?bodySHA256={declared}", body, signature)
    assert (await post_json(client, body, declared, signature)).status_code == 403
