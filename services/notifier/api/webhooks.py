"""Provider webhooks: SMS status callbacks and inbound SMS, authenticated by the provider's
signature (X-Twilio-Signature). Forged, missing, or signed for another URL -> 403, and nothing
is recorded or published.

The signature covers the URL the provider called. That is ``public_base_url`` + path + query
(what we gave the provider), or, behind an ingress that overwrites X-Forwarded-* headers and
with ``trust_forwarded_headers`` set, the URL rebuilt from them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from services.notifier.adapters.sms.base import SmsSender, SmsSendFailed
from services.notifier.domain.phone import InvalidPhone, to_e164
from services.notifier.domain.twilio_signature import external_url, is_valid_signature
from services.notifier.handlers.inbound import ServiceText, handle_inbound_sms
from services.notifier.handlers.provider_status import StatusDeps, apply_status
from services.notifier.handlers.record_answer import AnswerDeps

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks/sms", tags=["webhooks"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass(frozen=True)
class WebhookContext:
    auth_token: str | None  # None: no provider webhooks configured (every call is refused)
    public_base_url: str
    trust_forwarded_headers: bool
    statuses: StatusDeps
    answers: AnswerDeps
    reply_sender: SmsSender
    texts: ServiceText
    phone_region: str


def webhook_context(request: Request) -> WebhookContext:
    context: WebhookContext = request.app.state.webhooks
    return context


Context = Annotated[WebhookContext, Depends(webhook_context)]


def _candidate_urls(request: Request, context: WebhookContext) -> list[str]:
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
    return urls


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def verified_form(request: Request, context: WebhookContext) -> dict[str, str]:
    """The form, once its signature is Twilio's. Another body (JSON) is checked the way Twilio
    signs it (``bodySHA256``) so a signed one is told apart from a forged one, then refused:
    the SMS webhooks Twilio calls post forms, and these routes read nothing else."""
    is_form = request.headers.get("content-type", "").split(";")[0].strip().lower() in _FORM_TYPES
    params: list[tuple[str, str]] | bytes
    if is_form:
        form = await request.form()
        params = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    else:
        params = await request.body()
    signature = request.headers.get("x-twilio-signature")
    token = context.auth_token
    if token is None or not any(
        is_valid_signature(url, params, signature, token)
        for url in _candidate_urls(request, context)
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "signature missing or not valid")
    if isinstance(params, bytes):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "these webhooks take form posts (application/x-www-form-urlencoded)",
        )
    return dict(params)


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT)
async def status_callback(request: Request, context: Context) -> Response:
    form = await verified_form(request, context)
    code = form.get("ErrorCode")
    await apply_status(
        context.statuses,
        form.get("MessageSid", ""),
        form.get("MessageStatus", "").lower(),
        int(code) if code and code.isdigit() else None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/inbound")
async def inbound_sms(request: Request, context: Context) -> Response:
    form = await verified_form(request, context)
    try:
        sender = to_e164(form.get("From", ""), context.phone_region)
    except InvalidPhone:
        return Response(EMPTY_TWIML, media_type="text/xml")
    result = await handle_inbound_sms(
        context.answers, form.get("MessageSid", ""), sender, form.get("Body", ""), context.texts
    )
    log.info("inbound sms handled: %s", result.handled)
    if result.reply:
        try:
            await context.reply_sender.send(
                sender, result.reply, None, f"reply-{form.get('MessageSid', '')}"
            )
        except SmsSendFailed as error:
            log.warning("reply not sent: %s", error.reason)
    return Response(EMPTY_TWIML, media_type="text/xml")
