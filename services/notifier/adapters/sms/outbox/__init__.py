"""The dev outbox: messages kept instead of sent. It calls nothing back (no webhooks)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from services.notifier.adapters.sms.base import ManagedSmsSender, SmsWebhooks
from services.notifier.adapters.sms.outbox.outbox import (
    ManagedOutbox,
    OutboxSms,
    SmsOutbox,
    outbox_message_id,
)
from services.notifier.adapters.sms.provider import SmsProviderPackage
from shared.clock import Clock

if TYPE_CHECKING:
    from services.notifier.settings import NotifierSettings

__all__ = ["PROVIDER", "ManagedOutbox", "OutboxSms", "SmsOutbox", "outbox_message_id"]


def _build(settings: NotifierSettings, clock: Clock) -> tuple[ManagedSmsSender, SmsWebhooks | None]:
    path = Path(settings.sms_outbox_path) if settings.sms_outbox_path else None
    return ManagedOutbox(SmsOutbox(clock, path)), None


PROVIDER = SmsProviderPackage(settings_problem=lambda _settings: None, build=_build)
