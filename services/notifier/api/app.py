from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI

from services.notifier.api import members, replies, templates, unsubscribe, webhooks
from services.notifier.api.dependencies import ApiContext
from services.notifier.api.webhooks import WebhookContext
from services.notifier.settings import NotifierSettings
from services.notifier.templating import PromptRenderer, StoredTemplates
from shared.clock import Clock
from shared.http.auth import require_bearer_token
from shared.http.health import ReadinessCheck, health_router
from shared.http.nul import RefuseNulCharacters


@dataclass(frozen=True)
class TemplateContext:
    renderer: PromptRenderer
    store: StoredTemplates
    clock: Clock


def create_api(
    settings: NotifierSettings,
    context: ApiContext,
    webhook_context: WebhookContext,
    template_context: TemplateContext,
    readiness: dict[str, ReadinessCheck],
) -> FastAPI:
    app = FastAPI(
        title="Connection Rituals notifier",
        version="1",
        description="Members' contact and consent (operators); answer pages (members).",
    )
    app.state.context = context
    app.add_middleware(RefuseNulCharacters)
    app.state.webhooks = webhook_context
    app.state.templates = template_context.renderer
    app.state.template_store = template_context.store
    app.state.clock = template_context.clock
    operator = [Depends(require_bearer_token(settings.operator_token, "operator"))]
    app.include_router(members.router, dependencies=operator)
    app.include_router(templates.router, dependencies=operator)
    app.include_router(replies.router)  # authorised by the signed token in the path
    app.include_router(unsubscribe.router)  # likewise
    app.include_router(webhooks.router)  # authorised by the provider's signature
    app.include_router(health_router(readiness))
    return app
