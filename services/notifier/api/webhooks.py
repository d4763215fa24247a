"""SMS provider webhooks, one pair per provider: ``/v1/webhooks/sms/{provider}/inbound`` (a
member's message) and ``/v1/webhooks/sms/{provider}/status`` (status callbacks).

Only the configured provider's routes answer (another name: 404). Its package checks the
call's signature before anything is read from it; forged, missing, stale or signed for another
URL -> 403, and nothing is recorded or published. Bodies are bounded by the listener
(``http_max_body_bytes``) before they get here.

URL-signing providers (Twilio) sign the URL they called. That is ``public_base_url`` + path +
query (what we gave the provider), or, behind an ingress that overwrites X-Forwarded-* headers
and with ``trust_forwarded_headers`` set, the URL rebuilt from them: both are handed over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from services.notifier.adapters.sms.base import (
    SmsSender,
    SmsSendFailed,
    SmsWebhooks,
    WebhookCall,
    WebhookRefused,
)
from services.notifier.adapters.sms.provider import ConfiguredSmsProvider
from services.notifier.domain.external_url import external_url
from services.notifier.domain.phone import InvalidPhone, to_e164
from services.notifier.handlers.use_cases.inbound import (
    PreferencesLink,
    ServiceText,
    handle_inbound_sms,
)
from services.notifier.handlers.use_cases.provider_status import StatusDeps, apply_status
from services.notifier.handlers.use_cases.record_answer import AnswerDeps

log = logging.getLogger(__name__)
PREFIX = "/v1/webhooks/sms"
router = APIRouter(prefix=PREFIX, tags=["webhooks"])
MAX_MESSAGE_ID_LENGTH = 64  # the columns that hold provider message ids


@dataclass(frozen=True)
class WebhookContext:
    # The configured provider's webhooks by its name; empty when it calls us back for nothing.
    sms_providers: Mapping[str, SmsWebhooks]
    public_base_url: str
    trust_forwarded_headers: bool
    statuses: StatusDeps
    answers: AnswerDeps
    reply_sender: SmsSender
    texts: ServiceText
    phone_region: str
    preferences_link: PreferencesLink | None = None  # the reply to PREFS


def sms_webhooks(provider: ConfiguredSmsProvider) -> dict[str, SmsWebhooks]:
    """``WebhookContext.sms_providers`` for the configured provider."""
    return {provider.name: provider.webhooks} if provider.webhooks is not None else {}


def sms_webhook_url(
    public_base_url: str, provider: ConfiguredSmsProvider, kind: Literal["inbound", "status"]
) -> str | None:
    """Where ``provider`` calls us (to give it, or to configure at it); None if it calls us
    for nothing."""
    if provider.webhooks is None:
        return None
    return f"{public_base_url.rstrip('/')}{PREFIX}/{provider.name}/{kind}"


def webhook_context(request: Request) -> WebhookContext:
    context: WebhookContext = request.app.state.webhooks
    return context


Context = Annotated[WebhookContext, Depends(webhook_context)]


def _provider(context: WebhookContext, name: str) -> SmsWebhooks:
    webhooks = context.sms_providers.get(name)
    if webhooks is None:
        # The name is not repeated back: it is whatever the caller put in the path.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no SMS provider of that name here")
    return webhooks


def _candidate_urls(request: Request, context: WebhookContext) -> tuple[str, ...]:
    raw_path = request.scope.get("raw_path", b"").decode() or request.url.path
    query = request.scope.get("query_string", b"").decode()
    configured = context.public_base_url.rstrip("/") + raw_path + (f"?{query}" if query else "")
    urls = [configured]
    if context.trust_forwarded_headers:
        headers = request.headers
        urls.append(
            external_url(
                request.url.scheme,
                headers.get("host", ""),
                raw_path,
                query,
                headers.get("x-forwarded-proto"),
                headers.get("x-forwarded-host"),
                headers.get("x-forwarded-port"),
            )
        )
    return tuple(urls)


async def webhook_call(request: Request, context: WebhookContext) -> WebhookCall:
    """The call as a provider package reads it: candidate URLs, headers, raw body."""
    return WebhookCall(
        urls=_candidate_urls(request, context),
        headers={name.lower(): value for name, value in request.headers.items()},
        media_type=request.headers.get("content-type", "").split(";")[0].strip().lower(),
        body=await request.body(),
    )


def _refused(error: WebhookRefused) -> HTTPException:
    return HTTPException(error.status, error.detail)


def _check_message_id(message_id: str) -> None:
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"message ids longer than {MAX_MESSAGE_ID_LENGTH} characters are not taken",
        )


@router.post("/{provider}/status", status_code=status.HTTP_204_NO_CONTENT)
async def status_callback(provider: str, request: Request, context: Context) -> Response:
    webhooks = _provider(context, provider)
    try:
        report = webhooks.read_status(await webhook_call(request, context))
    except WebhookRefused as error:
        raise _refused(error) from None
    _check_message_id(report.provider_message_id)
    await apply_status(context.statuses, provider, report)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{provider}/inbound")
async def inbound_sms(provider: str, request: Request, context: Context) -> Response:
    webhooks = _provider(context, provider)
    try:
        message = webhooks.read_inbound(await webhook_call(request, context))
    except WebhookRefused as error:
        raise _refused(error) from None
    _check_message_id(message.provider_message_id)
    answer = webhooks.inbound_answer
    acknowledged = Response(answer.body, answer.status, media_type=answer.media_type)
    try:
        sender = to_e164(message.from_number, context.phone_region)
    except InvalidPhone:
        return acknowledged  # not a number we could ever have texted: nothing to do
    result = await handle_inbound_sms(
        context.answers,
        message.provider_message_id,
        sender,
        message.body,
        context.texts,
        context.preferences_link,
    )
    log.info("inbound sms handled: %s", result.handled)
    if result.reply:
        try:
            await context.reply_sender.send(
                sender, result.reply, None, f"reply-{message.provider_message_id}"
            )
        except SmsSendFailed as error:
            log.warning("reply not sent: %s", error.reason)
    return acknowledged
