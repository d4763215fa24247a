"""What an SMS provider package hands the registry: how to check its settings and how to build
its sender and webhooks from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.notifier.adapters.sms.base import ManagedSmsSender, SmsWebhooks
from shared.clock import Clock

if TYPE_CHECKING:
    # Type-only: settings.py looks providers up in the registry, so a package importing the
    # settings module at run time would make that a circular import.
    from services.notifier.settings import NotifierSettings


@dataclass(frozen=True)
class ConfiguredSmsProvider:
    """The provider the settings chose, ready to wire. ``webhooks`` None: it calls us back for
    nothing (the dev outbox; a gateway without a webhook secret), so its routes answer 404 and
    no status callback URL is given to it."""

    name: str
    sender: ManagedSmsSender
    webhooks: SmsWebhooks | None


@dataclass(frozen=True)
class SmsProviderPackage:
    """One provider package's entry in the registry.

    ``settings_problem``: what is missing or contradictory in the settings for this provider,
    in the operator's words (environment variable names), or None.
    ``build``: its sender and webhooks; called only once ``settings_problem`` found nothing.
    """

    settings_problem: Callable[[NotifierSettings], str | None]
    build: Callable[[NotifierSettings, Clock], tuple[ManagedSmsSender, SmsWebhooks | None]]
