"""One FastAPI app per listener, with the same edge on every one.

Each audience (operators; members and SMS providers; analysts) has its own listener, so a route
is reachable only where its audience connects. Every listener gets, outermost first:
problem+json for every error (``problems``), default security headers (``security_headers``),
the authentication-failure throttle
(``throttle``), body size limits (``limits``), refusal of input we cannot store
(``input_guard``), and the probes ``/health/live`` and ``/health/ready``. OpenAPI and its
docs only where the settings allow (off in prod by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from shared.clock import Clock
from shared.http.created import document_locations
from shared.http.errors import document_route_problems
from shared.http.health import ReadinessCheck, health_router
from shared.http.input_guard import RefuseUnstorableInput
from shared.http.limits import BodyLimits, LimitRequestBodies
from shared.http.problems import install_problem_handlers
from shared.http.security_headers import SecurityHeaders
from shared.http.throttle import AuthFailureTracker, ThrottleAuthFailures, ThrottlePolicy
from shared.settings import ServiceSettings


def throttle_policy(settings: ServiceSettings) -> ThrottlePolicy:
    return ThrottlePolicy(
        max_failures=settings.auth_failure_limit,
        window=timedelta(seconds=settings.auth_failure_window_s),
        block=timedelta(seconds=settings.auth_failure_block_s),
        max_peers=settings.auth_throttle_max_peers,
    )


def listener_app(
    settings: ServiceSettings,
    clock: Clock,
    readiness: Mapping[str, ReadinessCheck],
    *,
    title: str,
    description: str,
    larger_bodies: Mapping[tuple[str, str], int] | None = None,
    innermost: Sequence[type[Any]] = (),
) -> FastAPI:
    """An app for one listener; include its routers next. ``larger_bodies`` maps the (exact
    path, media type) pairs that accept more than ``settings.http_max_body_bytes`` to their
    limit. ``innermost``: ASGI middlewares (classes taking the app) inside the shared ones,
    first listed outermost: they see requests already bounded, guarded and throttled."""
    docs = settings.openapi_docs_enabled
    app = FastAPI(
        title=title,
        version="1",
        description=description,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.include_router(health_router(readiness))
    # add_middleware wraps what is there: the last added runs first.
    for middleware in reversed(innermost):
        app.add_middleware(middleware)
    app.add_middleware(RefuseUnstorableInput)
    app.add_middleware(
        LimitRequestBodies, limits=BodyLimits(settings.http_max_body_bytes, larger_bodies or {})
    )
    app.add_middleware(
        ThrottleAuthFailures, tracker=AuthFailureTracker(throttle_policy(settings), clock)
    )
    app.add_middleware(SecurityHeaders)
    install_problem_handlers(
        app, lambda schema: document_locations(document_route_problems(schema))
    )
    return app
