"""An address that keeps failing authentication gets 429 for a while, on every listener
(defect 12). Time moves on the ManualClock, never by sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.demo.system import SMS_NUMBER, DatabaseFor, LocalSystem
from shared.clock import ManualClock
from tests.integration.http_edge.support import PROBLEM_JSON, Answer, call

LIMIT = 3
WINDOW = timedelta(seconds=60)
BLOCK = timedelta(seconds=300)
# Per listener: a request that fails authentication, and one that passes it.
FAILING = {
    "scheduler": ("GET", "/v1/schedule/upcoming", "wrong-token"),
    "notifier": ("GET", "/v1/templates", "wrong-token"),
    "notifier-public": ("GET", "/r/forged-link-token", ""),
    "insights-analyst": ("GET", "/v1/values", "wrong-token"),
}
PASSING = {
    "scheduler": ("GET", "/v1/schedule/upcoming"),
    "notifier": ("GET", "/v1/templates"),
    "insights-analyst": ("GET", "/v1/values"),
}


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[LocalSystem]:
    throttle = {
        "auth_failure_limit": LIMIT,
        "auth_failure_window_s": WINDOW.total_seconds(),
        "auth_failure_block_s": BLOCK.total_seconds(),
    }
    async with LocalSystem(tmp_path, clock, database_for, common_overrides=throttle) as local:
        yield local


async def fail(system: LocalSystem, listener: str) -> Answer:
    method, path, token = FAILING[listener]
    return await call(system, listener, method, path, token=token)


async def succeed(system: LocalSystem, listener: str) -> Answer:
    """A request with valid credentials (on the public listener, a correctly signed SMS)."""
    if listener == "notifier-public":
        status = await system.twilio.send_inbound(
            system.sms_webhook("inbound"), "+447911123456", SMS_NUMBER, "HELP"
        )
        return Answer(status, "", {}, "")
    method, path = PASSING[listener]
    return await call(system, listener, method, path)


def assert_throttled(answer: Answer, retry_after: int) -> None:
    assert answer.status == 429, answer
    assert answer.content_type == PROBLEM_JSON
    assert answer.headers["Retry-After"] == str(retry_after)


async def assert_throttled_with_credentials(system: LocalSystem, listener: str) -> None:
    if listener == "notifier-public":  # the fake provider's client reports the status only
        assert (await succeed(system, listener)).status == 429
        return
    assert_throttled(await succeed(system, listener), 300)


@pytest.mark.parametrize("listener", list(FAILING))
async def test_more_failures_than_the_limit_are_throttled_until_the_block_ends(
    system: LocalSystem, clock: ManualClock, listener: str
) -> None:
    for _ in range(LIMIT + 1):  # the limit, and one more
        assert (await fail(system, listener)).status in (401, 403)
    assert_throttled(await fail(system, listener), 300)
    # Before any route work: the right credentials do not get through either…
    await assert_throttled_with_credentials(system, listener)
    # …but the probes do.
    assert (await call(system, listener, "GET", "/health/live", token="")).status == 200
    clock.advance(BLOCK - timedelta(seconds=10))
    assert_throttled(await fail(system, listener), 10)
    clock.advance(timedelta(seconds=10))
    assert (await succeed(system, listener)).status == 200


async def test_failures_spread_wider_than_the_window_are_not_throttled(
    system: LocalSystem, clock: ManualClock
) -> None:
    for _ in range(3 * LIMIT):
        assert (await fail(system, "scheduler")).status == 401
        clock.advance(WINDOW / LIMIT + timedelta(seconds=1))
    assert (await succeed(system, "scheduler")).status == 200


async def test_a_block_on_one_listener_leaves_the_others_open(system: LocalSystem) -> None:
    for _ in range(LIMIT + 1):
        await fail(system, "notifier-public")
    assert (await fail(system, "notifier-public")).status == 429
    assert (await succeed(system, "notifier")).status == 200
    assert (await succeed(system, "scheduler")).status == 200
