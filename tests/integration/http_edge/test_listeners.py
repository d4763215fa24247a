"""Each audience on its own listener; OpenAPI docs off in prod (defect 12)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import LocalSystem
from services.insights.api.app import create_analyst_api, create_operator_api
from services.insights.settings import InsightsSettings
from shared.clock import ManualClock
from shared.db import create_engine, session_factory
from shared.settings import Environment
from tests.integration.http_edge.support import PROBLEM_JSON, call

# (listener, method, path, status where it belongs), without credentials: a 401 or 403 (or
# the page's own 403) means the route is there; elsewhere the same request must be a 404.
ROUTES = [
    ("scheduler", "GET", "/v1/communities/riverside", 401),
    ("scheduler", "GET", "/v1/schedule/upcoming", 401),
    ("notifier", "GET", "/v1/members/mbr_x", 401),
    ("notifier", "POST", "/v1/members/import", 401),
    ("notifier", "GET", "/v1/templates", 401),
    ("notifier-public", "GET", "/r/not-a-token", 403),
    ("notifier-public", "POST", "/u/not-a-token", 403),
    ("notifier-public", "POST", "/v1/webhooks/sms/twilio/inbound", 403),
    ("notifier-public", "POST", "/v1/webhooks/sms/twilio/status", 403),
    ("insights-analyst", "GET", "/v1/values", 401),
    ("insights-analyst", "GET", "/v1/areas", 401),
    ("insights-analyst", "GET", "/v1/periods", 401),
    ("insights", "POST", "/v1/releases", 401),
]
SIBLINGS = {
    "notifier": "notifier-public",
    "notifier-public": "notifier",
    "insights": "insights-analyst",
    "insights-analyst": "insights",
}


async def test_a_route_answers_only_on_its_audiences_listener(system: LocalSystem) -> None:
    for listener, method, path, status in ROUTES:
        here = await call(system, listener, method, path, token="")
        assert (listener, path, here.status) == (listener, path, status)
        other = SIBLINGS.get(listener)
        if other is not None:
            # With the sibling's own credentials, too: a token does not open another door.
            elsewhere = await call(system, other, method, path)
            assert (other, path, elsewhere.status) == (other, path, 404)
            assert elsewhere.content_type == PROBLEM_JSON


async def test_every_listener_has_the_probes(system: LocalSystem) -> None:
    assert set(system.ports) == {
        "scheduler",
        "notifier",
        "notifier-public",
        "insights",
        "insights-analyst",
    }
    for listener in system.ports:
        for path in ("/health/live", "/health/ready"):
            answer = await call(system, listener, "GET", path, token="")
            assert (listener, path, answer.status) == (listener, path, 200)


async def test_links_and_callbacks_point_at_the_public_listener(system: LocalSystem) -> None:
    settings = system.runtimes["notifier"].plumbing.settings
    assert getattr(settings, "public_base_url", None) == system.url("notifier-public")
    assert system.sms_webhook("inbound").startswith(system.url("notifier-public") + "/")


@pytest.fixture
async def sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine("sqlite+aiosqlite://")
    yield session_factory(engine)
    await engine.dispose()


@pytest.mark.parametrize(
    ("environment", "docs", "served"),
    [
        (Environment.prod, None, False),
        (Environment.prod, False, False),
        (Environment.prod, True, True),
        (Environment.dev, None, True),
        (Environment.dev, False, False),
    ],
)
async def test_openapi_and_its_docs_are_off_in_prod_unless_enabled(
    sessions: async_sessionmaker[AsyncSession],
    environment: Environment,
    docs: bool | None,
    served: bool,
) -> None:
    settings = InsightsSettings(
        environment=environment,
        database_url="postgresql+asyncpg://insights@db.internal/insights",
        analyst_token=SecretStr(secrets.token_urlsafe(32)),
        operator_token=SecretStr(secrets.token_urlsafe(32)),
        openapi_docs=docs,
    )
    clock = ManualClock(datetime(2027, 1, 4, tzinfo=UTC))
    for app in (
        create_operator_api(settings, sessions, clock, {}),
        create_analyst_api(settings, sessions, clock, {}),
    ):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://insights") as http:
            for path in ("/openapi.json", "/docs", "/redoc"):
                status = (await http.get(path)).status_code
                assert (path, status) == (path, 200 if served else 404)
            assert (await http.get("/health/live")).status_code == 200
