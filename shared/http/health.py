"""Liveness (the process answers) and readiness (its broker and database answer).

Not ready is an error like any other: a 503 problem (``application/problem+json``) whose
``checks`` member (an RFC 9457 extension) says which dependency fails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response, status

from shared.http.problems import PROBLEM_JSON, ProblemDetail, problem, problem_bytes

ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(checks: Mapping[str, ReadinessCheck], timeout_s: float = 3.0) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live", summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        summary="Broker and database reachable",
        responses={503: {"model": ProblemDetail, "description": "Not ready: see checks."}},
        response_model=None,
    )
    async def ready() -> dict[str, object] | Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                outcome = await asyncio.wait_for(check(), timeout=timeout_s)
            except Exception as error:
                results[name] = f"failing: {type(error).__name__}"
            else:
                results[name] = "ok" if outcome is not False else "failing"
        failing = sorted(name for name, value in results.items() if value != "ok")
        if not failing:
            return {"status": "ok", "checks": results}
        unavailable = status.HTTP_503_SERVICE_UNAVAILABLE
        body = problem(unavailable, f"not ready: {', '.join(failing)} failing")
        document = json.loads(problem_bytes(body)) | {"checks": results}
        return Response(json.dumps(document), unavailable, media_type=PROBLEM_JSON)

    return router
