"""The pages members open from e-mail links: what they print, the headers they send, and which
signed links they accept (including across a key rotation)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from services.demo.scenario import ANCHOR_ITEM, Person, answer_links, set_up_weekly_check_in
from services.demo.system import DatabaseFor, LocalSystem
from services.notifier.domain.signed_links import InvalidLink, LinkSigner
from services.notifier.handlers.compose import ANSWER_PURPOSE, UNSUBSCRIBE_PURPOSE
from shared.clock import ManualClock
from shared.devsmtp import ReceivedMail

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
# LocalSystem signs with a fresh random key; the key before it is this one.
PREVIOUS_KEY = "previous-link-key-0123456789abcde"


@dataclass(frozen=True)
class Prompted:
    system: LocalSystem
    mail: ReceivedMail

    @property
    def base(self) -> str:
        return self.system.url("notifier-public")

    @property
    def answer_url(self) -> str:
        return answer_links(self.mail)[2].split("?")[0]

    @property
    def unsubscribe_url(self) -> str:
        return str(self.mail.message["List-Unsubscribe"]).strip("<>")

    def delivery_id(self) -> str:
        """From the answer link's payload (signed, not secret: purpose|delivery id|expiry)."""
        payload = self.answer_url.rsplit("/", 1)[1].split(".")[0]
        purpose, delivery_id, _ = base64.urlsafe_b64decode(payload + "==").decode().split("|")
        assert purpose == ANSWER_PURPOSE
        return delivery_id


@pytest.fixture
async def prompted(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[Prompted]:
    overrides = {"link_signing_previous_key": PREVIOUS_KEY}
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as system:
        await set_up_weekly_check_in(system, (ANA,))
        await system.advance_to(MONDAY_0900)
        mail = (await system.smtp.wait_for(1))[0]
        yield Prompted(system, mail)


def assert_member_page_headers(response: aiohttp.ClientResponse) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";")}
    assert directives.get("default-src") == "default-src 'none'", policy
    assert directives.get("form-action") == "form-action 'self'", policy
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", policy
    assert directives.get("base-uri") == "base-uri 'none'", policy
    assert directives.get("style-src", "").startswith("style-src 'sha256-"), policy
    assert "script-src" not in directives, policy
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("Referrer-Policy") == "no-referrer"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Cache-Control") == "no-store"
    assert headers.get("Content-Type", "").startswith("text/html")


async def test_every_member_page_sends_the_security_headers(prompted: Prompted) -> None:
    signer = LinkSigner(PREVIOUS_KEY.encode())  # verified like the current key
    delivery = prompted.delivery_id()
    expired = signer.sign(ANSWER_PURPOSE, delivery, MONDAY_0900 - timedelta(seconds=1))
    unknown = signer.sign(ANSWER_PURPOSE, "d_unknown", MONDAY_0900 + timedelta(days=1))
    url = prompted.answer_url
    seen: list[tuple[str, int]] = []
    async with aiohttp.ClientSession() as browser:

        async def visit(
            name: str,
            method: str,
            target: str,
            data: dict[str, str] | bytes | None = None,
            headers: dict[str, str] | None = None,
        ) -> str:
            async with browser.request(method, target, data=data, headers=headers) as response:
                assert_member_page_headers(response)
                seen.append((name, response.status))
                return await response.text()

        await visit("form", "GET", f"{url}?{ANCHOR_ITEM}=2")
        await visit("not a number", "POST", url, data={ANCHOR_ITEM: "two"})
        headers = {"Content-Type": "multipart/form-data"}  # no boundary: cannot be parsed
        await visit("unreadable form", "POST", url, data=b"x", headers=headers)
        assert "Thank you" in await visit("thank you", "POST", url, data={ANCHOR_ITEM: "2"})
        await visit("already answered", "POST", url, data={ANCHOR_ITEM: "3"})
        await visit("invalid link", "GET", f"{prompted.base}/r/not-a-token")
        await visit("expired link", "GET", f"{prompted.base}/r/{expired}")
        await visit("unknown delivery", "GET", f"{prompted.base}/r/{unknown}")
        await visit("unsubscribe form", "GET", prompted.unsubscribe_url)
        await visit("unsubscribed", "POST", prompted.unsubscribe_url)
        await visit("invalid unsubscribe link", "POST", f"{prompted.base}/u/not-a-token")
    assert seen == [
        ("form", 200),
        ("not a number", 422),
        ("unreadable form", 400),
        ("thank you", 200),
        ("already answered", 200),
        ("invalid link", 403),
        ("expired link", 410),
        ("unknown delivery", 404),
        ("unsubscribe form", 200),
        ("unsubscribed", 200),
        ("invalid unsubscribe link", 403),
    ]


@pytest.mark.parametrize(
    "suffix",
    [
        # The tester's payload without its "/" (which would split the path: no route, 404).
        '=="><script>alert(1)',
        '=="><svg onload=alert(1)>',  # after the padding: Python's base64 ignored it
        '"><svg onload=alert(1)>',
        '=="><img src=x onerror=alert(1)>',
    ],
)
async def test_a_script_appended_to_a_link_is_refused_and_never_printed(
    prompted: Prompted, suffix: str
) -> None:
    async with aiohttp.ClientSession() as browser:
        for link in (prompted.unsubscribe_url, prompted.answer_url):
            async with browser.get(link + suffix) as response:
                body = await response.text()
                assert response.status == 403, link
                assert_member_page_headers(response)
            assert "<script" not in body
            assert "<svg" not in body
            assert "<img" not in body
            assert "alert(1)" not in body


async def test_links_signed_with_the_previous_key_keep_working_until_they_expire(
    prompted: Prompted,
) -> None:
    old = LinkSigner(PREVIOUS_KEY.encode())
    emailed = prompted.answer_url.rsplit("/", 1)[1]
    with pytest.raises(InvalidLink, match="signature"):  # new links: signed with the current key
        old.verify(emailed, ANSWER_PURPOSE, MONDAY_0900)
    delivery = prompted.delivery_id()
    expires = MONDAY_0900 + timedelta(days=2)
    stranger = LinkSigner(b"some-other-key-0123456789abcdef0")
    cases = [
        (f"/r/{emailed}", 200),
        (f"/r/{old.sign(ANSWER_PURPOSE, delivery, expires)}", 200),
        (f"/u/{old.sign(UNSUBSCRIBE_PURPOSE, 'm_any', expires)}", 200),
        (f"/r/{old.sign(ANSWER_PURPOSE, delivery, MONDAY_0900 - timedelta(seconds=1))}", 410),
        (f"/r/{stranger.sign(ANSWER_PURPOSE, delivery, expires)}", 403),
    ]
    async with aiohttp.ClientSession(base_url=prompted.base) as browser:
        for path, status in cases:
            async with browser.get(path) as response:
                assert response.status == status, path
