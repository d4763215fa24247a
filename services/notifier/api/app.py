from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI

from services.notifier.api import (
    deliveries,
    member_import,
    members,
    preferences,
    replies,
    templates,
    unsubscribe,
    webhooks,
)
from services.notifier.api.dependencies import ApiContext
from services.notifier.api.webhooks import WebhookContext
from services.notifier.settings import NotifierSettings
from services.notifier.templating import PromptRenderer, StoredTemplates
from shared.clock import Clock
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck
from shared.http.listener import listener_app


@dataclass(frozen=True)
class TemplateContext:
    renderer: PromptRenderer
    store: StoredTemplates
    clock: Clock


def create_operator_api(
    settings: NotifierSettings,
    context: ApiContext,
    template_context: TemplateContext,
    readiness: dict[str, ReadinessCheck],
) -> FastAPI:
    """Operators' listener (``NOTIFIER_HTTP_PORT``): members and templates."""
    app = listener_app(
        settings,
        template_context.clock,
        readiness,
        title="Connection Rituals notifier",
        description="Members' contact and consent, and prompt templates (operators).",
        larger_bodies={(member_import.IMPORT_PATH, "text/csv"): settings.member_import_max_bytes},
    )
    app.state.context = context
    app.state.templates = template_context.renderer
    app.state.template_store = template_context.store
    app.state.clock = template_context.clock
    operator = [Depends(require_bearer_token(settings.operator_token, "operator"))]
    app.include_router(member_import.router, dependencies=operator)
    app.include_router(members.router, dependencies=operator)
    app.include_router(templates.router, dependencies=operator)
    app.include_router(deliveries.router, dependencies=operator)
    return app


def create_public_api(
    settings: NotifierSettings,
    context: ApiContext,
    webhook_context: WebhookContext,
    readiness: dict[str, ReadinessCheck],
) -> FastAPI:
    """Members' and SMS providers' listener (``NOTIFIER_PUBLIC_HTTP_PORT``, the one
    ``public_base_url`` names): answer and unsubscribe pages, provider webhooks."""
    app = listener_app(
        settings,
        context.answers.clock,
        readiness,
        title="Connection Rituals notifier (members and SMS providers)",
        description="Answer and unsubscribe pages behind signed links; SMS provider webhooks.",
    )
    app.state.context = context
    app.state.webhooks = webhook_context
    app.include_router(replies.router)  # authorised by the signed token in the path
    app.include_router(unsubscribe.router)  # likewise
    app.include_router(preferences.router)  # likewise
    app.include_router(webhooks.router)  # authorised by the provider's signature
    return app
