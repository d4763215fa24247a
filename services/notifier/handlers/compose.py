"""Turning a delivery into what goes out: the e-mail (headers, signed links, RFC 8058
one-click unsubscribe) or the SMS text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from services.notifier.adapters.templates import PromptTemplates, TemplateProblem
from services.notifier.domain.questions import ITEMS
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.prompt_job import PromptJob

ANSWER_PURPOSE = "answer"
UNSUBSCRIBE_PURPOSE = "unsubscribe"
UNSUBSCRIBE_LINK_LIFETIME = timedelta(days=400)

__all__ = ["ANSWER_PURPOSE", "UNSUBSCRIBE_PURPOSE", "Composer", "TemplateProblem"]


@dataclass(frozen=True)
class EmailPolicy:
    mail_from: str
    message_id_domain: str
    public_base_url: str
    late_answer_grace: timedelta


class Composer(Protocol):
    async def email(
        self, job: PromptJob, delivery_id: str, to_address: str, locale: str, now: datetime
    ) -> EmailMessage: ...

    async def sms(self, job: PromptJob, locale: str, now: datetime) -> str: ...


def answer_url(base_url: str, token: str, value: int | None = None) -> str:
    url = f"{base_url.rstrip('/')}/r/{token}"
    return f"{url}?{urlencode({'v': value})}" if value is not None else url


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


@dataclass(frozen=True)
class Links:
    """The signed links one prompt carries."""

    answer_token: str
    unsubscribe_token: str

    @classmethod
    def for_delivery(
        cls,
        signer: LinkSigner,
        job: PromptJob,
        delivery_id: str,
        policy: EmailPolicy,
        now: datetime,
    ) -> Links:
        # A nudge's links answer the original prompt, so either records one answer.
        answer_target = job.answers_delivery_id or delivery_id
        return cls(
            answer_token=signer.sign(
                ANSWER_PURPOSE, answer_target, job.respond_by + policy.late_answer_grace
            ),
            unsubscribe_token=signer.sign(
                UNSUBSCRIBE_PURPOSE, job.member_id, now + UNSUBSCRIBE_LINK_LIFETIME
            ),
        )


def email_envelope(
    *,
    delivery_id: str,
    to_address: str,
    subject: str,
    now: datetime,
    policy: EmailPolicy,
    unsubscribe: str,
) -> EmailMessage:
    """Headers every prompt carries. The email package refuses CR/LF in header values, so no
    header can be injected; the Message-ID is stable per delivery, so a resend is recognisable."""
    message = EmailMessage()
    message["From"] = policy.mail_from
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{delivery_id}@{policy.message_id_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    # RFC 8058: mail providers POST to this URL to unsubscribe in one click; a GET (a link
    # scanner) only shows a confirmation page.
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


class LegacyComposer:
    """File templates (subject.txt, body.txt) and the single anchor question."""

    def __init__(self, templates: PromptTemplates, signer: LinkSigner, policy: EmailPolicy):
        self._templates = templates
        self._signer = signer
        self._policy = policy

    def _context(self, job: PromptJob, links: Links) -> dict[str, Any]:
        item = ITEMS.get(job.item_key or "")
        local_deadline = job.respond_by.astimezone(ZoneInfo(job.timezone))
        base = self._policy.public_base_url
        return {
            "respond_by": local_deadline.strftime("%A %d %B, %H:%M"),
            "answer_url": answer_url(base, links.answer_token),
            "question": item.prompt if item else None,
            "options": [
                {"label": o.label, "url": answer_url(base, links.answer_token, o.value)}
                for o in (item.options if item else ())
            ],
        }

    async def email(
        self, job: PromptJob, delivery_id: str, to_address: str, locale: str, now: datetime
    ) -> EmailMessage:
        links = Links.for_delivery(self._signer, job, delivery_id, self._policy, now)
        key = f"{job.template_key}_nudge" if job.nudge_number else job.template_key
        rendered = self._templates.render_email(key, locale, self._context(job, links))
        message = email_envelope(
            delivery_id=delivery_id,
            to_address=to_address,
            subject=rendered.subject,
            now=now,
            policy=self._policy,
            unsubscribe=unsubscribe_url(self._policy.public_base_url, links.unsubscribe_token),
        )
        message.set_content(rendered.text)
        return message

    async def sms(self, job: PromptJob, locale: str, now: datetime) -> str:
        item = ITEMS.get(job.item_key or "")
        if item is None:
            return "Time for your connection ritual. Reply STOP to stop."
        options = ", ".join(f"{o.value} {o.label}" for o in item.options)
        return f"{item.prompt} Reply with a number: {options}. Reply STOP to stop."
