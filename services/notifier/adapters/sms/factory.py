"""The SMS provider the settings choose, with a start/close lifecycle for the runtime."""

from __future__ import annotations

from pathlib import Path

from services.notifier.adapters.sms.base import SmsAccepted
from services.notifier.adapters.sms.http_gateway import HttpGatewayConfig, HttpGatewaySender
from services.notifier.adapters.sms.outbox import SmsOutbox
from services.notifier.adapters.sms.twilio import TwilioConfig, TwilioSender
from services.notifier.settings import NotifierSettings, SmsProvider
from shared.clock import Clock


class ManagedOutbox:
    """The dev outbox, shaped like the network providers (start/close do nothing)."""

    def __init__(self, outbox: SmsOutbox) -> None:
        self.outbox = outbox

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(
        self, to_e164: str, body: str, status_callback_url: str | None, idempotency_key: str
    ) -> SmsAccepted:
        return await self.outbox.send(to_e164, body, status_callback_url, idempotency_key)


ManagedSmsSender = TwilioSender | HttpGatewaySender | ManagedOutbox


def build_sms_sender(settings: NotifierSettings, clock: Clock) -> ManagedSmsSender:
    if settings.sms_provider is SmsProvider.twilio:
        # NotifierSettings refuses the twilio provider without these.
        assert settings.twilio_account_sid
        assert settings.twilio_auth_token
        return TwilioSender(
            TwilioConfig(
                account_sid=settings.twilio_account_sid,
                auth_token=settings.twilio_auth_token.get_secret_value(),
                from_number=settings.twilio_from_number,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                base_url=settings.twilio_base_url,
            )
        )
    if settings.sms_provider is SmsProvider.http_gateway:
        assert settings.sms_gateway_url
        token = settings.sms_gateway_token
        return HttpGatewaySender(
            HttpGatewayConfig(
                url=settings.sms_gateway_url,
                bearer_token=token.get_secret_value() if token else None,
            )
        )
    path = Path(settings.sms_outbox_path) if settings.sms_outbox_path else None
    return ManagedOutbox(SmsOutbox(clock, path))
