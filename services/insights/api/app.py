from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.api import methodology, operators, releases
from services.insights.api.access import Sessions, analyst_access
from services.insights.api.dashboard import dashboard_router
from services.insights.api.methodology import methodology_html
from services.insights.handlers.release import ReleaseOutcome
from services.insights.settings import InsightsSettings
from shared.asyncapi import serve_asyncapi
from shared.clock import Clock
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck
from shared.http.listener import listener_app


def create_operator_api(
    settings: InsightsSettings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    readiness: dict[str, ReadinessCheck],
    on_release: Callable[[Iterable[ReleaseOutcome]], None] = lambda _: None,
) -> FastAPI:
    """Operators' listener (``INSIGHTS_HTTP_PORT``): probes, and releases on demand.
    ``on_release``: told of each release made here (metrics)."""
    app = listener_app(
        settings,
        clock,
        readiness,
        title="Connection Rituals insights (operators)",
        description="Operating the insights service: releases on demand.",
    )
    app.state.sessions = sessions
    app.state.clock = clock
    app.state.release_policy = settings.release_policy()
    app.state.on_release = on_release
    operator = [Depends(require_bearer_token(settings.operator_token, "operator"))]
    app.include_router(operators.router, dependencies=operator)
    serve_asyncapi(app, "insights")
    return app


def create_analyst_api(
    settings: InsightsSettings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    readiness: dict[str, ReadinessCheck],
) -> FastAPI:
    """Analysts' listener (``INSIGHTS_ANALYST_HTTP_PORT``): released figures, their catalogue
    and methodology (and the dashboard)."""
    app = listener_app(
        settings,
        clock,
        readiness,
        title="Connection Rituals insights",
        description="Anonymised community indicators of connection, for public-health teams: "
        "released figures only (differential privacy, small-cell suppression).",
    )
    app.state.sessions = sessions
    app.state.methodology = methodology_html(settings.release_policy())
    analysts = Sessions(settings.analyst_token, clock)
    access = analyst_access(analysts, settings.public_releases)
    app.include_router(releases.router, dependencies=[Depends(access)])
    # Its own access check: without access it shows the sign-in form rather than a 401.
    app.include_router(dashboard_router(analysts, settings.public_releases))
    app.include_router(methodology.router)  # public: it says how, never what
    return app
