from __future__ import annotations

from fastapi import Depends, FastAPI

from services.scheduler.api import communities, enrolments, rituals, schedule
from services.scheduler.api.dependencies import ApiContext
from services.scheduler.settings import SchedulerSettings
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck, health_router
from shared.http.nul import RefuseNulCharacters


def create_api(
    settings: SchedulerSettings, context: ApiContext, readiness: dict[str, ReadinessCheck]
) -> FastAPI:
    app = FastAPI(
        title="Connection Rituals scheduler",
        version="1",
        description="Communities, rituals on RFC 5545 schedules, and enrolments.",
    )
    app.state.context = context
    app.add_middleware(RefuseNulCharacters)
    operator = [Depends(require_bearer_token(settings.operator_token, "operator"))]
    for router in (communities.router, rituals.router, enrolments.router, schedule.router):
        app.include_router(router, dependencies=operator)
    app.include_router(health_router(readiness))
    return app
