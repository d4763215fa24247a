"""Readiness: 200 with each check when all answer; otherwise a 503 problem naming the failing."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shared.http.health import ReadinessCheck, health_router
from shared.http.problems import PROBLEM_JSON


async def ok() -> bool:
    return True


async def down() -> bool:
    raise ConnectionRefusedError("the broker is down at 10.0.0.7")


async def ready(checks: dict[str, ReadinessCheck]) -> httpx.Response:
    app = FastAPI()
    app.include_router(health_router(checks))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe.test") as http:
        return await http.get("/health/ready")


async def test_ready_when_every_check_answers() -> None:
    answer = await ready({"nats": ok, "database": ok})
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "checks": {"nats": "ok", "database": "ok"}}


async def test_not_ready_is_a_problem_that_names_the_failing_check() -> None:
    answer = await ready({"nats": down, "database": ok})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["status"] == 503
    assert problem["title"] == "Service Unavailable"
    assert problem["detail"] == "not ready: nats failing"
    assert problem["checks"] == {"nats": "failing: ConnectionRefusedError", "database": "ok"}
    assert "10.0.0.7" not in answer.text
