"""The fake Twilio itself: it must refuse what Twilio refuses, or adapter tests prove little."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.notifier.adapters.sms.http_client import basic_auth_header
from shared.devtwilio import FakeTwilio, ScriptedReply

MEMBER = "+447700900123"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as running:
        yield running


async def post(
    fake: FakeTwilio,
    form: dict[str, str],
    *,
    account: str | None = None,
    token: str | None = None,
    timeout_s: float = 5.0,
) -> tuple[int, dict[str, object]]:
    account = account or fake.account_sid
    url = f"{fake.base_url}/2010-04-01/Accounts/{account}/Messages.json"
    headers = {"Authorization": basic_auth_header(account, token or fake.auth_token)}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
        session.post(url, data=form, headers=headers) as response,
    ):
        return response.status, await response.json()


FORM = {"To": MEMBER, "From": "+447700900999", "Body": "Hello"}


async def test_an_accepted_message_answers_201_with_a_sid(fake: FakeTwilio) -> None:
    status, body = await post(fake, FORM)
    assert status == 201
    assert body["status"] == "queued"
    assert body["sid"] == fake.messages[0].sid


async def test_sids_are_unique_and_deterministic() -> None:
    sids: list[list[str]] = []
    for _ in range(2):
        async with FakeTwilio() as fake:
            for _ in range(3):
                await post(fake, FORM)
            sids.append([m.sid for m in fake.messages])
    assert sids[0] == sids[1]
    assert len(set(sids[0])) == 3
    assert all(len(sid) == 34 for sid in sids[0])


@pytest.mark.parametrize(("account", "token"), [("AC" + "9" * 32, None), (None, "wrong-token")])
async def test_wrong_credentials_are_refused_with_20003(
    fake: FakeTwilio, account: str | None, token: str | None
) -> None:
    status, body = await post(fake, FORM, account=account, token=token)
    assert (status, body["code"]) == (401, 20003)
    assert fake.messages == []


async def test_no_authorization_header_is_refused(fake: FakeTwilio) -> None:
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    async with aiohttp.ClientSession() as session, session.post(url, data=FORM) as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("form", "code"),
    [
        (FORM | {"To": "447700900123"}, 21211),
        (FORM | {"To": "+0447700900123"}, 21211),
        ({"To": MEMBER, "Body": "Hello"}, 21603),
        ({"To": MEMBER, "From": "+447700900999"}, 21602),
        (FORM | {"Body": ""}, 21602),
    ],
)
async def test_invalid_requests_get_twilios_error_codes(
    fake: FakeTwilio, form: dict[str, str], code: int
) -> None:
    status, body = await post(fake, form)
    assert (status, body["code"]) == (400, code)
    assert fake.messages == []


async def test_a_script_applies_to_its_recipient_for_n_requests_only(fake: FakeTwilio) -> None:
    fake.script(MEMBER, ScriptedReply.server_error(), times=2)
    other = FORM | {"To": "+447700900456"}
    assert (await post(fake, other))[0] == 201
    assert [(await post(fake, FORM))[0] for _ in range(3)] == [500, 500, 201]
    assert fake.request_count(MEMBER) == 3


async def test_stopping_releases_a_hung_request() -> None:
    fake = FakeTwilio()
    await fake.start()
    fake.script(MEMBER, ScriptedReply.hang())
    hung = asyncio.create_task(post(fake, FORM, timeout_s=10))
    await fake.wait_for_requests(MEMBER, 1)
    await asyncio.wait_for(fake.stop(), timeout=5)
    status, _ = await asyncio.wait_for(hung, timeout=5)
    assert status == 503
    assert fake.messages == []
