"""Twilio's webhook signature check (``TwilioWebhooks``, reading the call as the routes build
it) over HTTP, against requests signed by Twilio's own SDK: a form, a form repeating a value,
and JSON bodies signed with bodySHA256."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from multidict import MultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from services.notifier.adapters.sms.base import WebhookRefused
from services.notifier.adapters.sms.twilio import TwilioWebhooks
from services.notifier.api.webhooks import WebhookContext, webhook_call

TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "https://rituals.example.org"
PATH = "/v1/webhooks/sms/twilio/status"
SDK = RequestValidator(TOKEN)
JSON_BODY = '{"MessageSid":"SM1","MessageStatus":"delivered"}'


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    unused = cast(Any, None)  # the check reads only the token and the URLs
    twilio = TwilioWebhooks(TOKEN)
    app.state.webhooks = WebhookContext(
        sms_providers={"twilio": twilio},
        public_base_url=BASE,
        trust_forwarded_headers=False,
        statuses=unused,
        answers=unused,
        reply_sender=unused,
        texts=unused,
        phone_region="GB",
    )

    @app.post(PATH)
    async def checked(request: Request) -> dict[str, str | int | None]:
        try:
            report = twilio.read_status(await webhook_call(request, request.app.state.webhooks))
        except WebhookRefused as error:
            raise HTTPException(error.status, error.detail) from None
        return {
            "id": report.provider_message_id,
            "state": report.state,
            "error_code": report.error_code,
        }

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
    assert response.json() == {"id": "SM1", "state": "delivered", "error_code": None}


@pytest.mark.parametrize(
    ("status", "code", "state"),
    [
        ("undelivered", "21610", "opted_out"),  # the recipient texted STOP to our number
        ("failed", "21610", "opted_out"),
        ("undelivered", "30003", "undelivered"),
        ("scheduled", "", "accepted"),
        ("canceled", "", None),  # a status not tracked: acknowledged, then ignored
    ],
)
async def test_twilio_statuses_and_codes_are_read_in_the_notifiers_words(
    client: httpx.AsyncClient, status: str, code: str, state: str | None
) -> None:
    pairs = [("MessageSid", "SM1"), ("MessageStatus", status), ("ErrorCode", code)]
    response = await post_form(client, pairs, sdk_signature(BASE + PATH, pairs))
    assert response.status_code == 200, response.text
    assert response.json()["state"] == state


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
