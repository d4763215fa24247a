from __future__ import annotations

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.api import counts
from services.insights.settings import InsightsSettings
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck, health_router
from shared.http.nul import RefuseNulCharacters


def create_api(
    settings: InsightsSettings,
    sessions: async_sessionmaker[AsyncSession],
    readiness: dict[str, ReadinessCheck],
) -> FastAPI:
    app = FastAPI(
        title="Connection Rituals insights",
        version="1",
        description="Community-level counts built from pseudonymous responses.",
    )
    app.state.sessions = sessions
    app.add_middleware(RefuseNulCharacters)
    analyst = [Depends(require_bearer_token(settings.analyst_token, "analyst"))]
    app.include_router(counts.router, dependencies=analyst)
    app.include_router(health_router(readiness))
    return app
