"""Provider status callbacks without the router: the hottest request the notifier serves.

Every text brings two or three signed status callbacks (queued, sent, delivered). Through
FastAPI's exception handling, router and dependency injection each cost about twice the
status update itself: a profile of an SMS burst had 47% of the event loop in the HTTP stack
for callbacks, against 19% for sending. This middleware sits innermost on the members'
listener, inside the body limit, the input guard, the authentication-failure throttle and the
security headers, and answers a well-signed status callback of the configured provider itself,
through the same ``read_status`` and ``apply_status`` as the route. Anything else (another
path, an unknown provider, a refused signature, an over-long id) goes on to the app with its
body replayed, so refusals keep their problem+json, their throttle accounting and the
route's OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.notifier.adapters.sms.base import StatusReport, WebhookRefused
from services.notifier.api.webhooks import (
    MAX_MESSAGE_ID_LENGTH,
    PREFIX,
    WebhookContext,
    webhook_call,
)
from services.notifier.handlers.use_cases.provider_status import StatusDeps, apply_status
from shared.http.input_guard import buffered_body, replaying

_SUFFIX = "/status"


# Records one provider's report (``apply_status``; tests pass a recorder).
ApplyStatus = Callable[[StatusDeps, str, StatusReport], Awaitable[object]]


class StatusCallbackFastPath:
    def __init__(self, app: ASGIApp, apply: ApplyStatus = apply_status) -> None:
        self.app = app
        self._apply = apply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = _status_provider(scope)
        context: WebhookContext | None = (
            getattr(scope["app"].state, "webhooks", None) if provider else None
        )
        webhooks = context.sms_providers.get(provider) if context and provider else None
        if context is None or provider is None or webhooks is None:
            await self.app(scope, receive, send)
            return
        buffered = await buffered_body(receive)
        if buffered is None:
            return  # the provider hung up mid-body: it will call again
        body, replay = buffered
        try:
            report = webhooks.read_status(await webhook_call(Request(scope, replay), context))
        except WebhookRefused:
            report = None
        if report is None or len(report.provider_message_id) > MAX_MESSAGE_ID_LENGTH:
            # The route answers these, with the problem it describes in OpenAPI.
            await self.app(scope, replaying(body, receive), send)
            return
        await self._apply(context.statuses, provider, report)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _status_provider(scope: Scope) -> str | None:
    """The provider named in ``POST /v1/webhooks/sms/{provider}/status``, or None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not (path.startswith(f"{PREFIX}/") and path.endswith(_SUFFIX)):
        return None
    provider = path[len(PREFIX) + 1 : -len(_SUFFIX)]
    return provider if provider and "/" not in provider else None
