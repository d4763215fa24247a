"""Every SMS provider the notifier can use, by the name ``NOTIFIER_SMS_PROVIDER`` takes and
the webhook routes carry (``/v1/webhooks/sms/{name}/...``).

Adding a provider: its package in this directory, and one line here (see the README, "Adding
an SMS provider").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from services.notifier.adapters.sms import http_gateway, outbox, twilio
from services.notifier.adapters.sms.provider import ConfiguredSmsProvider, SmsProviderPackage
from shared.clock import Clock

if TYPE_CHECKING:
    from services.notifier.settings import NotifierSettings

SMS_PROVIDERS: Mapping[str, SmsProviderPackage] = {
    "outbox": outbox.PROVIDER,  # dev: messages are kept, not sent
    "twilio": twilio.PROVIDER,
    "http_gateway": http_gateway.PROVIDER,
}


def configure_sms_provider(settings: NotifierSettings, clock: Clock) -> ConfiguredSmsProvider:
    """The provider ``settings.sms_provider`` names (the settings have checked that it exists
    and is configured)."""
    sender, webhooks = SMS_PROVIDERS[settings.sms_provider].build(settings, clock)
    return ConfiguredSmsProvider(settings.sms_provider, sender, webhooks)
