"""A generic JSON HTTP gateway (an aggregator, or an in-house relay): sending by a JSON POST,
and inbound-message and status-callback webhooks signed with HMAC-SHA256. The wire format is
in the README ("SMS through a generic HTTP gateway")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.notifier.adapters.sms.base import ManagedSmsSender, SmsWebhooks
from services.notifier.adapters.sms.http_gateway.sender import HttpGatewayConfig, HttpGatewaySender
from services.notifier.adapters.sms.http_gateway.webhooks import GatewayWebhooks
from services.notifier.adapters.sms.provider import SmsProviderPackage
from shared.clock import Clock

if TYPE_CHECKING:
    from services.notifier.settings import NotifierSettings

__all__ = ["PROVIDER", "GatewayWebhooks", "HttpGatewayConfig", "HttpGatewaySender"]


def _settings_problem(settings: NotifierSettings) -> str | None:
    if not settings.sms_gateway_url:
        return "NOTIFIER_SMS_GATEWAY_URL is required for the http_gateway provider"
    return None


def _build(settings: NotifierSettings, clock: Clock) -> tuple[ManagedSmsSender, SmsWebhooks | None]:
    assert settings.sms_gateway_url  # _settings_problem has refused settings without it
    token = settings.sms_gateway_token
    sender = HttpGatewaySender(
        HttpGatewayConfig(
            url=settings.sms_gateway_url,
            bearer_token=token.get_secret_value() if token else None,
        )
    )
    # Without a secret nothing could prove a callback came from the gateway: no webhooks.
    secret = settings.sms_gateway_webhook_secret
    webhooks = GatewayWebhooks(secret.get_secret_value().encode(), clock) if secret else None
    return sender, webhooks


PROVIDER = SmsProviderPackage(settings_problem=_settings_problem, build=_build)
