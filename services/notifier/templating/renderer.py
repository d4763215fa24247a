"""Prompts and service texts rendered from templates: stored (operators') before packaged,
locale by locale.

Lookup for (key, locale, channel): for each of locale, its language, English (``es-MX``,
``es``, ``en``): the stored template, else the packaged one. So an operator's copy wins at its
own locale, but a Spanish reader still gets the packaged Spanish text rather than an operator's
English-only copy. A reminder (``nudge_number >= 1``) uses ``<key>_nudge``; when no such
template exists in any locale, the prompt's own template is sent with a "gentle reminder" line.

The rendering locale is the member's when the template found is in the member's language
(``es-MX`` dates for an ``es`` template), else the template's (an English fallback reads in
English throughout).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.notifier.domain.questionnaire import NUDGE_SUFFIX, canonical_locale, locale_fallbacks
from services.notifier.domain.sms_encoding import SmsEncoding, analyse_sms
from services.notifier.templating import wording
from services.notifier.templating.context import PromptContext, template_variables
from services.notifier.templating.packaged import PackagedTemplates
from services.notifier.templating.problems import TemplateProblem
from services.notifier.templating.samples import sample_contexts
from services.notifier.templating.sandbox import SandboxLimits, text_and_html_sandboxes
from services.notifier.templating.sms import fold_to_gsm, sms_warnings
from services.notifier.templating.sources import (
    CHANNELS,
    Origin,
    ResolvedTemplate,
    TemplateSource,
    is_service_key,
)
from services.notifier.templating.store import StoredTemplates

_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedSms:
    text: str
    segments: int
    encoding: str
    """``GSM-7`` or ``UCS-2``."""
    warnings: tuple[str, ...]


def _rendering_locale(member_locale: str, template_locale: str) -> str:
    member = canonical_locale(member_locale)
    if member.split("-")[0] == template_locale.split("-")[0]:
        return member
    return template_locale


def _tidy_sms(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("\n", text)).strip()


def _one_line(text: str) -> str:
    # A subject is one header line: no line break survives, so none can start a header.
    return " ".join(text.split())


class PromptRenderer:
    def __init__(
        self,
        stored: StoredTemplates,
        sms_warn_segments: int = 2,
        sms_max_segments: int = 6,
        *,
        packaged: PackagedTemplates | None = None,
        limits: SandboxLimits | None = None,
    ) -> None:
        if not 1 <= sms_warn_segments <= sms_max_segments:
            raise ValueError("need 1 <= sms_warn_segments <= sms_max_segments")
        self._stored = stored
        self.packaged = packaged or PackagedTemplates()
        self.sms_warn_segments = sms_warn_segments
        self.sms_max_segments = sms_max_segments
        self._text, self._html = text_and_html_sandboxes(limits or SandboxLimits())

    # -- lookup ---------------------------------------------------------------------------

    async def resolve(self, key: str, locale: str, channel: str) -> ResolvedTemplate | None:
        """The template (key, locale, channel) resolves to, or None (see module docstring)."""
        for candidate in locale_fallbacks(locale):
            stored = await self._stored.get(key, candidate, channel)
            if stored is not None:
                return ResolvedTemplate(
                    key,
                    candidate,
                    channel,
                    stored.source,
                    Origin.stored,
                    stored.version,
                    stored.updated_at,
                )
            packaged = self.packaged.get(key, candidate, channel)
            if packaged is not None:
                return ResolvedTemplate(key, candidate, channel, packaged, Origin.default)
        return None

    async def template_for(
        self, key: str, ctx: PromptContext, channel: str
    ) -> tuple[ResolvedTemplate, bool]:
        """The template a send uses, and whether it is the prompt's own template sent as a
        reminder (no ``_nudge`` template in any locale). Raises ``TemplateProblem`` if none."""
        if ctx.nudge_number >= 1 and not is_service_key(key) and not key.endswith(NUDGE_SUFFIX):
            nudge = await self.resolve(f"{key}{NUDGE_SUFFIX}", ctx.locale, channel)
            if nudge is not None:
                return nudge, False
            prompt = await self.resolve(key, ctx.locale, channel)
            if prompt is not None:
                return prompt, True
        else:
            found = await self.resolve(key, ctx.locale, channel)
            if found is not None:
                return found, False
        raise TemplateProblem(f"no {channel} template {key!r} for locale {ctx.locale!r}")

    # -- rendering ------------------------------------------------------------------------

    async def render_email(self, key: str, ctx: PromptContext) -> RenderedEmail:
        """Raises ``TemplateProblem`` when no template exists or it fails to render."""
        template, as_reminder = await self.template_for(key, ctx, "email")
        return self.render_email_source(template, ctx, as_reminder=as_reminder)

    async def render_sms(self, key: str, ctx: PromptContext) -> RenderedSms:
        """Raises ``TemplateProblem`` when no template exists, it fails to render, or the
        text needs more than ``sms_max_segments`` (nothing above the maximum is ever sent)."""
        template, as_reminder = await self.template_for(key, ctx, "sms")
        rendered = self.render_sms_source(template, ctx, as_reminder=as_reminder)
        if rendered.segments > self.sms_max_segments:
            raise TemplateProblem(
                f"{template.name}: {rendered.segments} segments, more than the maximum "
                f"{self.sms_max_segments}"
            )
        return rendered

    def render_email_source(
        self, template: ResolvedTemplate, ctx: PromptContext, *, as_reminder: bool = False
    ) -> RenderedEmail:
        subject, text, html = self._email_parts(template, ctx)
        locale = _rendering_locale(ctx.locale, template.locale)
        if as_reminder:
            subject = wording.wording("reminder_subject", locale) + subject
            text = f"{wording.wording('reminder_text', locale)}\n\n{text}"
            html = wording.add_reminder_html(html, locale)
        if ctx.unsubscribe_url:
            text = wording.add_unsubscribe_text(text, ctx.unsubscribe_url, locale)
            html = wording.add_unsubscribe_html(html, ctx.unsubscribe_url, locale)
        return RenderedEmail(subject=subject, text=text, html=html)

    def render_sms_source(
        self, template: ResolvedTemplate, ctx: PromptContext, *, as_reminder: bool = False
    ) -> RenderedSms:
        """Renders without refusing a long text: the caller decides (render_sms refuses,
        previews show the figures)."""
        text = self._sms_text(template, ctx)
        locale = _rendering_locale(ctx.locale, template.locale)
        prefix = wording.wording("reminder_sms", locale) if as_reminder else ""
        hint = ""
        if not is_service_key(template.key) and "STOP" not in text:
            hint = " " + wording.wording("stop_sms", locale)
        if analyse_sms(text).encoding is SmsEncoding.GSM7:
            # What the renderer adds must not be what turns a GSM-7 text into UCS-2.
            prefix, hint = fold_to_gsm(prefix), fold_to_gsm(hint)
        text = f"{prefix}{text.rstrip() if hint else text}{hint}"
        analysis = analyse_sms(text)
        return RenderedSms(
            text=text,
            segments=analysis.segments,
            encoding=analysis.encoding.value,
            warnings=tuple(sms_warnings(analysis, self.sms_warn_segments)),
        )

    def _render(
        self, source: str, name: str, ctx: PromptContext, locale: str, *, html: bool
    ) -> str:
        sandbox = self._html if html else self._text
        template = sandbox.compile_template(source, name)
        return sandbox.render_bounded(template, template_variables(ctx, locale), name)

    def _email_parts(self, template: ResolvedTemplate, ctx: PromptContext) -> tuple[str, str, str]:
        source = template.source
        if source.subject is None:
            raise TemplateProblem(f"{template.name}: an e-mail template needs a subject")
        locale = _rendering_locale(ctx.locale, template.locale)
        name = template.name
        subject = _one_line(
            self._render(source.subject, f"{name} subject", ctx, locale, html=False)
        )
        text = self._render(source.text_body, f"{name} text", ctx, locale, html=False).strip()
        if source.html_body is None:
            html = wording.text_to_html(text, locale)
        else:
            html = self._render(source.html_body, f"{name} html", ctx, locale, html=True).strip()
        return subject, text, html

    def _sms_text(self, template: ResolvedTemplate, ctx: PromptContext) -> str:
        locale = _rendering_locale(ctx.locale, template.locale)
        return _tidy_sms(
            self._render(template.source.text_body, template.name, ctx, locale, html=False)
        )

    # -- validation -----------------------------------------------------------------------

    async def validate(
        self,
        key: str,
        locale: str,
        channel: str,
        subject: str | None,
        text_body: str,
        html_body: str | None,
    ) -> list[str]:
        """Check a template an operator wants to save; returns warnings, raises
        ``TemplateProblem`` when it must be refused.

        Refused: a channel other than email/sms; parts the channel lacks or does not have; a
        construct the sandbox policy refuses (internals, ``**``, huge numbers, macros…); any
        error rendering it with the sample contexts (every module week, prompt and reminder,
        every support focus, with and without links), including undefined names; an SMS
        that needs more than ``sms_max_segments`` with any sample. Warned: an SMS over
        ``sms_warn_segments`` or forced to UCS-2; a missing unsubscribe link or STOP hint (a
        standard one is added when sending); an e-mail without HTML part (made from the text).
        """
        locale = canonical_locale(locale)
        if channel not in CHANNELS:
            raise TemplateProblem(f"channel must be one of {', '.join(CHANNELS)}")
        if not locale:
            raise TemplateProblem("locale must not be empty")
        source = TemplateSource(subject, text_body, html_body)
        template = ResolvedTemplate(key, locale, channel, source, Origin.draft)
        name = template.name
        if not text_body.strip():
            raise TemplateProblem(f"{name}: the body must not be empty")
        if channel == "sms" and (subject is not None or html_body is not None):
            raise TemplateProblem(f"{name}: an SMS template has no subject or HTML body")
        if channel == "email" and not (subject and subject.strip()):
            raise TemplateProblem(f"{name}: an e-mail template needs a subject")
        # Compile every part first, so a policy refusal is reported as such, not as a
        # rendering error with some sample.
        sandboxes = [(self._text, text_body, "text")]
        if subject is not None:
            sandboxes.append((self._text, subject, "subject"))
        if html_body is not None:
            sandboxes.append((self._html, html_body, "html"))
        for sandbox, part, label in sandboxes:
            sandbox.compile_template(part, f"{name} {label}")

        nudges = await self._sample_nudges(key, locale, channel)
        warnings: dict[str, None] = {}
        worst: RenderedSms | None = None
        for ctx in sample_contexts(key, locale, tuple(nudges)):
            as_reminder = nudges[ctx.nudge_number]
            if channel == "sms":
                raw = self._sms_text(template, ctx)
                if not is_service_key(key) and "STOP" not in raw:
                    warnings[
                        "the text does not say how to stop (STOP); a standard line is added"
                    ] = None
                rendered = self.render_sms_source(template, ctx, as_reminder=as_reminder)
                if worst is None or rendered.segments > worst.segments:
                    worst = rendered
                warnings.update(dict.fromkeys(rendered.warnings))
            else:
                _, text, html = self._email_parts(template, ctx)
                if ctx.unsubscribe_url and not wording.mentions_url(text, ctx.unsubscribe_url):
                    warnings[
                        "the text part does not show unsubscribe_url; a standard line is added"
                    ] = None
                if (
                    html_body is not None
                    and ctx.unsubscribe_url
                    and not wording.mentions_url(html, ctx.unsubscribe_url)
                ):
                    warnings[
                        "the HTML part does not link unsubscribe_url; a standard line is added"
                    ] = None
        if worst is not None and worst.segments > self.sms_max_segments:
            raise TemplateProblem(
                f"{name}: {worst.segments} segments ({worst.encoding}) with sample data, more "
                f"than the maximum {self.sms_max_segments}"
            )
        if channel == "email" and html_body is None:
            warnings["no HTML part: one is made from the text"] = None
        return list(warnings)

    async def _sample_nudges(self, key: str, locale: str, channel: str) -> dict[int, bool]:
        """Nudge numbers to sample -> whether that send adds the reminder line."""
        if is_service_key(key):
            return {0: False}
        if key.endswith(NUDGE_SUFFIX):
            return {1: False, 2: False}
        # Sent as a reminder too, unless a _nudge template takes over.
        has_nudge = await self.resolve(f"{key}{NUDGE_SUFFIX}", locale, channel) is not None
        return {0: False} if has_nudge else {0: False, 1: True}
