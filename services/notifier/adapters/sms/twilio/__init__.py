"""Twilio: sending through its Messages API, its inbound-message and status-callback webhooks
(X-Twilio-Signature), its statuses and its opt-out codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.notifier.adapters.sms.base import ManagedSmsSender, SmsWebhooks
from services.notifier.adapters.sms.provider import SmsProviderPackage
from services.notifier.adapters.sms.twilio.sender import TwilioConfig, TwilioSender
from services.notifier.adapters.sms.twilio.webhooks import TwilioWebhooks
from shared.clock import Clock

if TYPE_CHECKING:
    from services.notifier.settings import NotifierSettings

__all__ = ["PROVIDER", "TwilioConfig", "TwilioSender", "TwilioWebhooks"]


def _settings_problem(settings: NotifierSettings) -> str | None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return "NOTIFIER_TWILIO_ACCOUNT_SID and _AUTH_TOKEN are required"
    if bool(settings.twilio_from_number) == bool(settings.twilio_messaging_service_sid):
        return "set one of NOTIFIER_TWILIO_FROM_NUMBER and NOTIFIER_TWILIO_MESSAGING_SERVICE_SID"
    return None


def _build(
    settings: NotifierSettings, _clock: Clock
) -> tuple[ManagedSmsSender, SmsWebhooks | None]:
    # _settings_problem has refused settings without these.
    assert settings.twilio_account_sid
    assert settings.twilio_auth_token
    auth_token = settings.twilio_auth_token.get_secret_value()
    sender = TwilioSender(
        TwilioConfig(
            account_sid=settings.twilio_account_sid,
            auth_token=auth_token,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            base_url=settings.twilio_base_url,
        )
    )
    return sender, TwilioWebhooks(auth_token)


PROVIDER = SmsProviderPackage(settings_problem=_settings_problem, build=_build)
