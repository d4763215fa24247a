"""The delivery log tests' helpers: one GET on the notifier's operator listener, and delivery
rows written straight into the running notifier's database (instants and ties chosen)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from yarl import URL

from services.demo.system import LocalSystem
from services.notifier.adapters.tables import deliveries
from shared.db import create_engine

PROBLEM_JSON = "application/problem+json"
# Planted in every row's stored source event: it must never come out of the log.
PLANTED_ADDRESS = "planted@riverside.example"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    link: str | None
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


async def get_log(
    system: LocalSystem, path: str, token: str | None = None, listener: str = "notifier"
) -> Answer:
    """``GET path`` on the notifier's operator listener (or ``listener``), with the operator
    token unless ``token`` says otherwise (``""``: none). ``path`` goes out as written (its
    query is not encoded again)."""
    bearer = system.tokens["notifier"] if token is None else token
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    url = f"{system.url(listener)}{path}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(URL(url, encoded=True), headers=headers) as response,
    ):
        return Answer(
            response.status,
            response.headers.get("Content-Type", "").split(";")[0],
            response.headers.get("Link"),
            await response.text(),
        )


def delivery_row(
    delivery_id: str,
    created_at: datetime,
    *,
    member_id: str = "member-a",
    ritual_id: str = "ritual-1",
    status: str = "sent",
    channel: str = "email",
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "due_event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, delivery_id)),  # 36 characters
        "channel": channel,
        "member_id": member_id,
        "community_id": "riverside",
        "ritual_id": ritual_id,
        "ritual_kind": "check_in",
        "template_key": "check_in",
        "occurrence_at": created_at,
        "occurrence_local_date": created_at.date(),
        "respond_by": created_at + timedelta(days=2),
        "timezone": "UTC",
        "nudge_number": 0,
        "status": status,
        "attempts": 1 if status == "sent" else 3,
        "failure_reason": "retries_exhausted" if status == "failed" else None,
        "created_at": created_at,
        "sent_at": created_at if status == "sent" else None,
        "provider_state_rank": 0,
        "source_event": json.dumps({"to": PLANTED_ADDRESS, "phone": "+447700900123"}),
    }


async def store_deliveries(system: LocalSystem, rows: list[dict[str, Any]]) -> None:
    url, schema = system.database_for("notifier")
    engine = create_engine(url, schema)
    try:
        async with engine.begin() as connection:
            await connection.execute(deliveries.insert(), rows)
    finally:
        await engine.dispose()
