"""The scheduler alone, on the test database: its API in-process, its tick and relay driven by
hand on a ManualClock, and a recording publisher standing in for JetStream."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.scheduler.adapters.tables import outbox
from services.scheduler.api.app import create_api
from services.scheduler.api.dependencies import ApiContext
from services.scheduler.handlers.emit_due import EmissionPolicy, TickResult
from services.scheduler.handlers.ticker import Ticker
from services.scheduler.settings import SchedulerSettings
from shared.clock import ManualClock
from shared.contracts import NudgeDueV1, RitualDueV1
from shared.db import create_engine, session_factory
from shared.messaging.publisher import RecordingPublisher
from shared.migrations import upgrade_to_head
from shared.outbox import OutboxRelay

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "scheduler" / "migrations"
TOKEN = "test-operator-token-0123456789abcdef"


class SchedulerHarness:
    def __init__(
        self, url: str, schema: str | None, clock: ManualClock, policy: EmissionPolicy
    ) -> None:
        self.clock = clock
        self.schema = schema
        self.engine: AsyncEngine = create_engine(url, schema)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self.publisher = RecordingPublisher()
        self.relay = OutboxRelay(outbox, self.sessions, self.publisher)
        self.policy = policy
        self.ticker = Ticker(
            self.sessions, clock, self.relay, 5.0, policy, publisher=self.publisher
        )
        settings = SchedulerSettings(environment="test", database_url=url, operator_token=TOKEN)
        app = create_api(
            settings,
            ApiContext(
                sessions=self.sessions,
                clock=clock,
                relay=self.relay,
                emission=policy,
                default_misfire_grace=timedelta(hours=1),
                min_prompt_interval=timedelta(hours=1),
            ),
            {},
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://scheduler",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    async def start(self) -> None:
        await upgrade_to_head(self.engine, MIGRATIONS, self.schema)

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.http.post(path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    async def tick(self) -> TickResult:
        result = await self.ticker.tick()
        await self.relay.drain()
        return result

    def due_events(self) -> list[RitualDueV1]:
        return [
            RitualDueV1.model_validate_json(body)
            for subject, body, _ in self.publisher.raw
            if subject == RitualDueV1.subject
        ]

    def nudge_events(self) -> list[NudgeDueV1]:
        return [
            NudgeDueV1.model_validate_json(body)
            for subject, body, _ in self.publisher.raw
            if subject == NudgeDueV1.subject
        ]

    async def community(self, community_id: str = "riverside", zone: str = "Europe/London") -> None:
        await self.post(
            "/v1/communities",
            {"id": community_id, "name": community_id, "timezone": zone, "region_code": "E1"},
        )

    async def ritual(self, **fields: Any) -> dict[str, Any]:
        body = {
            "id": "monday",
            "community_id": "riverside",
            "kind": "check_in",
            "title": "Monday check-in",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "dtstart": "2027-01-04T09:00",
        } | fields
        result: dict[str, Any] = await self.post("/v1/rituals", body)
        return result

    async def enrol(
        self, member_id: str, zone: str | None = None, community: str = "riverside"
    ) -> None:
        body: dict[str, Any] = {"community_id": community, "member_id": member_id}
        if zone:
            body["timezone"] = zone
        await self.post("/v1/enrolments", body)


def member(n: int) -> str:
    return f"mbr_member{n:012d}"
