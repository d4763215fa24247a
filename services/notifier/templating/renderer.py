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

Where they render: the packaged defaults in-process (shipped with the code, and as trusted);
anything an operator wrote (stored, or a draft being saved or previewed) in a render worker
(``pool``), with a deadline and a memory cap, so that no template can hold up the event loop.
A save renders all its sample contexts as one job under one deadline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.notifier.domain.questionnaire import NUDGE_SUFFIX, canonical_locale, locale_fallbacks
from services.notifier.domain.sms_encoding import SmsEncoding, analyse_sms
from services.notifier.templating import wording
from services.notifier.templating.context import PromptContext, template_variables
from services.notifier.templating.jobs import RenderJob, Renders, Sandboxes, TemplatePart
from services.notifier.templating.packaged import PackagedTemplates
from services.notifier.templating.pool import RenderLimits, RenderPool
from services.notifier.templating.problems import TemplateProblem
from services.notifier.templating.samples import sample_contexts
from services.notifier.templating.sandbox import SandboxLimits
from services.notifier.templating.sms import fold_to_gsm, sms_warnings
from services.notifier.templating.sources import (
    CHANNELS,
    Origin,
    ResolvedTemplate,
    TemplateSource,
    is_service_key,
)
from services.notifier.templating.store import StoredTemplates
from shared.contracts import Channel

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
    """Lookup, rendering and validation. Operators' templates render in ``pool`` (its own,
    with ``limits``, when none is given: ``close`` then stops it); the packaged defaults
    in-process, with the same sandbox limits."""

    def __init__(
        self,
        stored: StoredTemplates,
        sms_warn_segments: int = 2,
        sms_max_segments: int = 6,
        *,
        packaged: PackagedTemplates | None = None,
        limits: SandboxLimits | None = None,
        pool: RenderPool | None = None,
    ) -> None:
        if not 1 <= sms_warn_segments <= sms_max_segments:
            raise ValueError("need 1 <= sms_warn_segments <= sms_max_segments")
        if pool is not None and limits is not None:
            raise ValueError("give the limits to the pool")
        self._stored = stored
        self.packaged = packaged or PackagedTemplates()
        self.sms_warn_segments = sms_warn_segments
        self.sms_max_segments = sms_max_segments
        self._owns_pool = pool is None
        self._pool = pool or RenderPool(RenderLimits(sandbox=limits or SandboxLimits()))
        self.limits = self._pool.limits
        self._in_process = Sandboxes.with_limits(self.limits.sandbox)

    async def close(self) -> None:
        """Stops the render workers if the pool is this renderer's own."""
        if self._owns_pool:
            await self._pool.close()

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
        return await self.render_email_source(template, ctx, as_reminder=as_reminder)

    async def render_sms(self, key: str, ctx: PromptContext) -> RenderedSms:
        """Raises ``TemplateProblem`` when no template exists, it fails to render, or the
        text needs more than ``sms_max_segments`` (nothing above the maximum is ever sent)."""
        template, as_reminder = await self.template_for(key, ctx, "sms")
        rendered = await self.render_sms_source(template, ctx, as_reminder=as_reminder)
        if rendered.segments > self.sms_max_segments:
            raise TemplateProblem(
                f"{template.name}: {rendered.segments} segments, more than the maximum "
                f"{self.sms_max_segments}"
            )
        return rendered

    async def render_email_source(
        self, template: ResolvedTemplate, ctx: PromptContext, *, as_reminder: bool = False
    ) -> RenderedEmail:
        (rendered,) = await self._render(
            template, _email_parts(template), (ctx,), self.limits.render_timeout_s
        )
        return self._finish_email(
            template, ctx, *_email_texts(template, ctx, rendered), as_reminder
        )

    async def render_sms_source(
        self, template: ResolvedTemplate, ctx: PromptContext, *, as_reminder: bool = False
    ) -> RenderedSms:
        """Renders without refusing a long text: the caller decides (render_sms refuses,
        previews show the figures)."""
        ((raw,),) = await self._render(
            template, _sms_parts(template), (ctx,), self.limits.render_timeout_s
        )
        return self._finish_sms(template, ctx, _tidy_sms(raw), as_reminder)

    async def _render(
        self,
        template: ResolvedTemplate,
        parts: tuple[TemplatePart, ...],
        contexts: Sequence[PromptContext],
        timeout_s: float,
    ) -> Renders:
        """Each part rendered with each context: the packaged defaults in-process, anything
        an operator wrote (stored or draft) in a render worker, within ``timeout_s``."""
        job = RenderJob(
            template.name,
            parts,
            tuple(
                dict(template_variables(ctx, _rendering_locale(ctx.locale, template.locale)))
                for ctx in contexts
            ),
        )
        if template.origin is Origin.default:
            # Shipped with the code and checked by its tests: as trusted as the code, and a
            # worker round trip would cost more than the render (bench/template_render.py).
            return self._in_process.run(job)
        return await self._pool.render(job, timeout_s=timeout_s)

    def _finish_email(
        self,
        template: ResolvedTemplate,
        ctx: PromptContext,
        subject: str,
        text: str,
        html: str,
        as_reminder: bool,
    ) -> RenderedEmail:
        """What the renderer adds to every e-mail: the reminder line, the preferences and
        unsubscribe links."""
        locale = _rendering_locale(ctx.locale, template.locale)
        if as_reminder:
            subject = wording.wording("reminder_subject", locale) + subject
            text = f"{wording.wording('reminder_text', locale)}\n\n{text}"
            html = wording.add_reminder_html(html, locale)
        if ctx.preferences_url:
            text = wording.add_preferences_text(text, ctx.preferences_url, locale)
            html = wording.add_preferences_html(html, ctx.preferences_url, locale)
        if ctx.unsubscribe_url:
            text = wording.add_unsubscribe_text(text, ctx.unsubscribe_url, locale)
            html = wording.add_unsubscribe_html(html, ctx.unsubscribe_url, locale)
        return RenderedEmail(subject=subject, text=text, html=html)

    def _finish_sms(
        self, template: ResolvedTemplate, ctx: PromptContext, text: str, as_reminder: bool
    ) -> RenderedSms:
        """What the renderer adds to every SMS (reminder prefix, STOP hint), and its cost."""
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
        every support focus, with and without links; at most ``validation_samples`` of them),
        including undefined names; rendering them all taking longer than
        ``validation_timeout_s`` or more memory than a worker has; an SMS that needs more
        than ``sms_max_segments`` with any sample. Warned: an SMS over ``sms_warn_segments``
        or forced to UCS-2; a missing unsubscribe link or STOP hint (a standard one is added
        when sending); an e-mail without HTML part (made from the text).
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

        nudges = await self._sample_nudges(key, locale, channel)
        samples = sample_contexts(
            key, locale, tuple(nudges), self.limits.validation_samples, Channel(channel)
        )
        parts = _sms_parts(template) if channel == "sms" else _email_parts(template)
        # One job, one deadline for all samples: a slow template is refused as a whole.
        renders = await self._render(template, parts, samples, self.limits.validation_timeout_s)
        warnings: dict[str, None] = {}
        worst: RenderedSms | None = None
        for ctx, rendered in zip(samples, renders, strict=True):
            as_reminder = nudges[ctx.nudge_number]
            if channel == "sms":
                raw = _tidy_sms(rendered[0])
                if not is_service_key(key) and "STOP" not in raw:
                    warnings[
                        "the text does not say how to stop (STOP); a standard line is added"
                    ] = None
                sms = self._finish_sms(template, ctx, raw, as_reminder)
                if worst is None or sms.segments > worst.segments:
                    worst = sms
                warnings.update(dict.fromkeys(sms.warnings))
            else:
                _, text, html = _email_texts(template, ctx, rendered)
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


def _sms_parts(template: ResolvedTemplate) -> tuple[TemplatePart, ...]:
    return (TemplatePart(template.source.text_body, template.name, html=False),)


def _email_parts(template: ResolvedTemplate) -> tuple[TemplatePart, ...]:
    """Subject, text and (when written) HTML, in that order."""
    source, name = template.source, template.name
    if source.subject is None:
        raise TemplateProblem(f"{name}: an e-mail template needs a subject")
    parts = [
        TemplatePart(source.subject, f"{name} subject", html=False),
        TemplatePart(source.text_body, f"{name} text", html=False),
    ]
    if source.html_body is not None:
        parts.append(TemplatePart(source.html_body, f"{name} html", html=True))
    return tuple(parts)


def _email_texts(
    template: ResolvedTemplate, ctx: PromptContext, rendered: Sequence[str]
) -> tuple[str, str, str]:
    """(subject, text, html) from the rendered parts, before the renderer's additions; the
    HTML made from the text when the template has none."""
    subject, text = _one_line(rendered[0]), rendered[1].strip()
    if len(rendered) > 2:
        return subject, text, rendered[2].strip()
    return subject, text, wording.text_to_html(text, _rendering_locale(ctx.locale, template.locale))
