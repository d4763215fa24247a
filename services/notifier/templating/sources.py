"""What a template is made of, wherever it comes from (packaged default or operator's copy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.contracts import Channel

CHANNELS = tuple(channel.value for channel in Channel)

# Keys of the texts answering an inbound SMS (help, opt-out…): no nudges, no STOP footer
# added (they say it themselves where it makes sense).
SERVICE_KEY_PREFIX = "sms_"


class Origin(StrEnum):
    stored = "stored"
    default = "default"
    draft = "draft"  # not saved: a preview of what an operator is writing


@dataclass(frozen=True)
class TemplateSource:
    """E-mail: ``subject`` and ``text_body`` required, ``html_body`` optional (without it the
    HTML part is made from the text). SMS: ``text_body`` only."""

    subject: str | None
    text_body: str
    html_body: str | None


@dataclass(frozen=True)
class ResolvedTemplate:
    """The template a (key, locale, channel) resolves to after fallback."""

    key: str
    locale: str
    """The locale actually found (``es`` for a member in ``es-MX`` with no ``es-MX`` copy)."""
    channel: str
    source: TemplateSource
    origin: Origin
    version: int | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.origin.value} template {self.key}/{self.locale}/{self.channel}"


def is_service_key(key: str) -> bool:
    return key.startswith(SERVICE_KEY_PREFIX)
