"""Turning a delivery into what goes out: the e-mail (text and HTML parts, signed answer
links, RFC 8058 one-click unsubscribe, the signed link to the member's preferences page) or the
SMS text, rendered from the member's templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parseaddr
from typing import Protocol
from urllib.parse import urlencode

from services.notifier.domain.mime import OutgoingEmail, alternative_email
from services.notifier.domain.prompt_job import PromptJob
from services.notifier.domain.questionnaire import Questionnaire, questionnaire_for
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.templating import (
    PromptContext,
    PromptRenderer,
    RenderedSms,
    TemplateProblem,
)
from shared.contracts import Channel

ANSWER_PURPOSE = "answer"
UNSUBSCRIBE_PURPOSE = "unsubscribe"
UNSUBSCRIBE_LINK_LIFETIME = timedelta(days=400)
# The preferences page: the link in every prompt (and the SMS keyword PREFS's reply) opens it;
# its form carries a token of its own, short-lived, that the save must return (CSRF).
PREFERENCES_PURPOSE = "preferences"
PREFERENCES_FORM_PURPOSE = "preferences-form"
PREFERENCES_LINK_LIFETIME = timedelta(days=400)
# Reminders suggest asking for, or offering, one kind of support, turn by turn (the seed
# article's four: no single relationship can or should meet every need).
SUPPORT_FOCUS_ROTATION = ("emotional", "practical", "informational", "belonging")

__all__ = [
    "ANSWER_PURPOSE",
    "PREFERENCES_FORM_PURPOSE",
    "PREFERENCES_PURPOSE",
    "UNSUBSCRIBE_PURPOSE",
    "Composer",
    "TemplateProblem",
]


@dataclass(frozen=True)
class EmailPolicy:
    mail_from: str
    message_id_domain: str
    public_base_url: str
    late_answer_grace: timedelta


class Composer(Protocol):
    async def email(
        self, job: PromptJob, delivery_id: str, to_address: str, locale: str, now: datetime
    ) -> OutgoingEmail: ...

    async def sms(
        self, job: PromptJob, delivery_id: str, locale: str, now: datetime
    ) -> RenderedSms: ...


def answer_url(base_url: str, token: str, chosen: dict[str, int] | None = None) -> str:
    url = f"{base_url.rstrip('/')}/r/{token}"
    return f"{url}?{urlencode(chosen)}" if chosen else url


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


def preferences_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/p/{token}"


def signed_preferences_url(signer: LinkSigner, base_url: str, member_id: str, now: datetime) -> str:
    token = signer.sign(PREFERENCES_PURPOSE, member_id, now + PREFERENCES_LINK_LIFETIME)
    return preferences_url(base_url, token)


def questionnaire_of(job: PromptJob, channel: Channel) -> Questionnaire | None:
    """What the prompt asks when sent through ``channel`` (an e-mail adds form-only items)."""
    return questionnaire_for(job.template_key, job.occurrence_local_date, channel)


def support_focus_of(job: PromptJob) -> str:
    week = job.occurrence_local_date.isocalendar().week
    return SUPPORT_FOCUS_ROTATION[week % len(SUPPORT_FOCUS_ROTATION)]


def email_headers(
    *,
    delivery_id: str,
    to_address: str,
    subject: str,
    now: datetime,
    policy: EmailPolicy,
    unsubscribe: str,
) -> list[tuple[str, str]]:
    """Headers every prompt carries. A value with a line break is refused (``domain.mime``),
    so no header can be injected; the Message-ID is stable per delivery, so a resend is
    recognisable."""
    return [
        ("From", policy.mail_from),
        ("To", to_address),
        ("Subject", subject),
        ("Date", format_datetime(now)),
        ("Message-ID", f"<{delivery_id}@{policy.message_id_domain}>"),
        ("Auto-Submitted", "auto-generated"),
        # RFC 8058: mail providers POST to this URL to unsubscribe in one click; a GET (a link
        # scanner) only shows a confirmation page. Written as it is, never RFC 2047-encoded.
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]


class TemplatedComposer:
    def __init__(self, renderer: PromptRenderer, signer: LinkSigner, policy: EmailPolicy):
        self._renderer = renderer
        self._signer = signer
        self._policy = policy
        self._envelope_sender = parseaddr(policy.mail_from)[1]

    def _context(
        self,
        job: PromptJob,
        channel: Channel,
        locale: str,
        answer_token: str | None,
        unsubscribe: str | None,
        preferences: str | None = None,
    ) -> PromptContext:
        questionnaire = questionnaire_of(job, channel)
        base = self._policy.public_base_url
        option_urls = {}
        # A text has no room for one-tap links: it links the form once, for the questions
        # beyond the anchor (see ``sms``).
        if questionnaire is not None and answer_token is not None and channel is Channel.email:
            # Form-only items (WHO-5) get none: they are answered together on the form, and
            # five statements of six answers each would be thirty more links.
            option_urls = {
                item.key: {
                    option.value: answer_url(base, answer_token, {item.key: option.value})
                    for option in item.options
                }
                for item in questionnaire.items
                if not item.form_only
            }
        return PromptContext(
            questionnaire=questionnaire,
            locale=locale,
            timezone=job.timezone,
            respond_by=job.respond_by,
            answer_url=answer_url(base, answer_token) if answer_token else None,
            option_urls=option_urls,
            unsubscribe_url=unsubscribe,
            preferences_url=preferences,
            ritual_kind=job.ritual_kind.value,
            nudge_number=job.nudge_number,
            support_focus=support_focus_of(job),
        )

    def _answer_token(self, job: PromptJob, delivery_id: str) -> str:
        # A nudge's links answer the original prompt, so either records one answer.
        return self._signer.sign(
            ANSWER_PURPOSE,
            job.answers_delivery_id or delivery_id,
            job.respond_by + self._policy.late_answer_grace,
        )

    async def email(
        self, job: PromptJob, delivery_id: str, to_address: str, locale: str, now: datetime
    ) -> OutgoingEmail:
        answer_token = self._answer_token(job, delivery_id)
        unsubscribe = unsubscribe_url(
            self._policy.public_base_url,
            self._signer.sign(UNSUBSCRIBE_PURPOSE, job.member_id, now + UNSUBSCRIBE_LINK_LIFETIME),
        )
        preferences = signed_preferences_url(
            self._signer, self._policy.public_base_url, job.member_id, now
        )
        rendered = await self._renderer.render_email(
            job.template_key,
            self._context(job, Channel.email, locale, answer_token, unsubscribe, preferences),
        )
        headers = email_headers(
            delivery_id=delivery_id,
            to_address=to_address,
            subject=rendered.subject,
            now=now,
            policy=self._policy,
            unsubscribe=unsubscribe,
        )
        data = alternative_email(headers, rendered.text, rendered.html, delivery_id)
        return OutgoingEmail(self._envelope_sender, to_address, data)

    async def sms(
        self, job: PromptJob, delivery_id: str, locale: str, now: datetime
    ) -> RenderedSms:
        """The text asks the anchor question, answered by replying one number; it links the
        answer form (``answer_url``, the e-mail's form) for the rest of the week's questions,
        which would not fit the segment limit in a text (README: "What a check-in asks")."""
        asks = questionnaire_of(job, Channel.sms) is not None
        answer_token = self._answer_token(job, delivery_id) if asks else None
        return await self._renderer.render_sms(
            job.template_key, self._context(job, Channel.sms, locale, answer_token, None)
        )

    async def service_text(self, key: str, locale: str, timezone: str, now: datetime) -> str:
        """Short SMS replies (help, opt-out confirmation…), from the same templates."""
        context = PromptContext(
            questionnaire=None, locale=locale, timezone=timezone, respond_by=now, answer_url=None
        )
        return (await self._renderer.render_sms(key, context)).text
