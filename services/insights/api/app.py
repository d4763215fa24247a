from __future__ import annotations

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.api import counts
from services.insights.settings import InsightsSettings
from shared.clock import Clock
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck
from shared.http.listener import listener_app


def create_operator_api(
    settings: InsightsSettings, clock: Clock, readiness: dict[str, ReadinessCheck]
) -> FastAPI:
    """Operators' listener (``INSIGHTS_HTTP_PORT``): probes today, operator commands later."""
    return listener_app(
        settings,
        clock,
        readiness,
        title="Connection Rituals insights (operators)",
        description="Operating the insights service.",
    )


def create_analyst_api(
    settings: InsightsSettings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    readiness: dict[str, ReadinessCheck],
) -> FastAPI:
    """Analysts' listener (``INSIGHTS_ANALYST_HTTP_PORT``): the read API."""
    app = listener_app(
        settings,
        clock,
        readiness,
        title="Connection Rituals insights",
        description="Community-level counts built from pseudonymous responses (analysts).",
    )
    app.state.sessions = sessions
    analyst = [Depends(require_bearer_token(settings.analyst_token, "analyst"))]
    app.include_router(counts.router, dependencies=analyst)
    return app
