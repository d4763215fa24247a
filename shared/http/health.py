"""Liveness (the process answers) and readiness (its broker and database answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response, status

ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(checks: Mapping[str, ReadinessCheck], timeout_s: float = 3.0) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live", summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready", summary="Broker and database reachable")
    async def ready(response: Response) -> dict[str, object]:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                outcome = await asyncio.wait_for(check(), timeout=timeout_s)
            except Exception as error:
                results[name] = f"failing: {type(error).__name__}"
            else:
                results[name] = "ok" if outcome is not False else "failing"
        healthy = all(value == "ok" for value in results.values())
        if not healthy:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "ok" if healthy else "unavailable", "checks": results}

    return router
