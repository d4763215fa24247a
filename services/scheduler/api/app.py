from __future__ import annotations

from fastapi import Depends, FastAPI

from services.scheduler.api import communities, enrolments, rituals, schedule
from services.scheduler.api.dependencies import ApiContext
from services.scheduler.settings import SchedulerSettings
from shared.asyncapi import serve_asyncapi
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck
from shared.http.listener import listener_app


def create_api(
    settings: SchedulerSettings, context: ApiContext, readiness: dict[str, ReadinessCheck]
) -> FastAPI:
    """The scheduler's one listener: operators (``SCHEDULER_HTTP_PORT``)."""
    app = listener_app(
        settings,
        context.clock,
        readiness,
        title="Connection Rituals scheduler",
        description="Communities, rituals on RFC 5545 schedules, and enrolments (operators).",
    )
    app.state.context = context
    operator = [Depends(require_bearer_token(settings.operator_token, "operator"))]
    for router in (communities.router, rituals.router, enrolments.router, schedule.router):
        app.include_router(router, dependencies=operator)
    serve_asyncapi(app, "scheduler")
    return app
