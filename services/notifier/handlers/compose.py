"""Turning a delivery into an e-mail: template context, signed answer links, headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from services.notifier.adapters.templates import PromptTemplates
from services.notifier.domain.questions import Item
from services.notifier.domain.signed_links import LinkSigner

ANSWER_PURPOSE = "answer"


@dataclass(frozen=True)
class EmailPolicy:
    mail_from: str
    message_id_domain: str
    public_base_url: str
    late_answer_grace: timedelta


def answer_url(base_url: str, token: str, value: int | None = None) -> str:
    url = f"{base_url.rstrip('/')}/r/{token}"
    return f"{url}?{urlencode({'v': value})}" if value is not None else url


def compose_prompt(
    *,
    delivery_id: str,
    answer_delivery_id: str,
    to_address: str,
    locale: str,
    template_key: str,
    item: Item | None,
    respond_by: datetime,
    timezone: str,
    now: datetime,
    templates: PromptTemplates,
    signer: LinkSigner,
    policy: EmailPolicy,
) -> EmailMessage:
    """The prompt e-mail. Its Message-ID is stable per delivery, so a resend is recognisable.

    The answer links are signed for ``answer_delivery_id``: the prompt's own delivery, or for a
    nudge the original prompt's, so that answering either records one answer.
    """
    token = signer.sign(ANSWER_PURPOSE, answer_delivery_id, respond_by + policy.late_answer_grace)
    local_deadline = respond_by.astimezone(ZoneInfo(timezone))
    context: dict[str, Any] = {
        "respond_by": local_deadline.strftime("%A %d %B, %H:%M"),
        "answer_url": answer_url(policy.public_base_url, token),
        "question": item.prompt if item else None,
        "options": [
            {"label": option.label, "url": answer_url(policy.public_base_url, token, option.value)}
            for option in (item.options if item else ())
        ],
    }
    rendered = templates.render_email(template_key, locale, context)
    message = EmailMessage()
    # The email package refuses CR/LF in header values, so no header can be injected.
    message["From"] = policy.mail_from
    message["To"] = to_address
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{delivery_id}@{policy.message_id_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    return message
