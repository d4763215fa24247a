"""Operators' prompt templates: list, read, save (validated first), delete, preview.

Include with operator authentication, e.g.
``app.include_router(templates.router, dependencies=operator)``, and set on ``app.state``:

- ``templates``: the ``PromptRenderer`` (validation, lookup, rendering);
- ``template_store``: the ``StoredTemplates`` that renderer reads (``SqlStoredTemplates``);
- ``clock``: a ``Clock`` (saves are stamped with ``clock.now()``).

Saving runs ``PromptRenderer.validate``: a refused template (sandbox violation, undefined
name, nesting too deep, too many SMS segments, taking too long or too much memory with the
sample data…) is a 422 whose ``detail`` says which and why; an accepted one is stored with
the next version and returned with its warnings. Saves and previews render in the
renderer's worker processes, so a slow template holds up nothing else. Reading a template that is
not stored returns the packaged default (``source: "default"``), after the same locale
fallback members get. Previews use sample data only, never a member's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain.questionnaire import canonical_locale
from services.notifier.templating.formatting import is_known_locale
from services.notifier.templating.problems import TemplateProblem
from services.notifier.templating.renderer import PromptRenderer
from services.notifier.templating.samples import sample_context
from services.notifier.templating.sources import Origin, ResolvedTemplate, TemplateSource
from services.notifier.templating.store import StoredTemplates
from shared.clock import Clock
from shared.contracts import Channel, RitualKind
from shared.http.errors import NEVER_NOT_FOUND, UNPROCESSABLE
from shared.http.pagination import Page, PageQuery, list_page, next_cursor

router = APIRouter(prefix="/v1/templates", tags=["templates"])


def _renderer(request: Request) -> PromptRenderer:
    renderer: PromptRenderer = request.app.state.templates
    return renderer


def _store(request: Request) -> StoredTemplates:
    store: StoredTemplates = request.app.state.template_store
    return store


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


Renderer = Annotated[PromptRenderer, Depends(_renderer)]
Store = Annotated[StoredTemplates, Depends(_store)]
AppClock = Annotated[Clock, Depends(_clock)]
Key = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="e.g. check_in, check_in_nudge")
]
LocaleParam = Annotated[
    str,
    Path(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$", description="e.g. en, es-MX"),
]
# The same four as templating.context.SUPPORT_FOCUSES (a test keeps them equal).
SupportFocus = Literal["emotional", "informational", "practical", "belonging"]


class StoredTemplateSummary(BaseModel):
    key: str
    locale: str
    channel: Channel
    version: int
    updated_at: datetime


class TemplateOut(BaseModel):
    key: str
    locale: str
    """The locale asked for (in canonical spelling)."""
    resolved_locale: str
    """The locale of the template members in ``locale`` get (``es`` for ``es-MX``…)."""
    channel: Channel
    source: Origin
    """``stored`` (an operator's) or ``default`` (packaged)."""
    version: int | None
    updated_at: datetime | None
    subject: str | None
    text_body: str
    html_body: str | None


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, description="e-mail only")
    text_body: str
    html_body: str | None = Field(default=None, description="e-mail only; autoescaped")


class SavedOut(StoredTemplateSummary):
    warnings: list[str]


class PreviewIn(BaseModel):
    """Sample data to preview with and, optionally, a draft to preview instead of the
    template in force. Without a draft the template members would get is rendered (for a
    reminder, the ``_nudge`` template or the prompt's with a reminder line)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = None
    text_body: str | None = None
    html_body: str | None = None
    nudge_number: int = Field(default=0, ge=0, le=10)
    ritual_kind: RitualKind | None = None
    support_focus: SupportFocus | None = None
    module: int | None = Field(default=None, ge=0, le=3, description="ISO week % 4")
    with_links: bool = True


class SmsPreviewOut(BaseModel):
    source: Origin
    resolved_locale: str
    text: str
    segments: int
    encoding: str
    warnings: list[str]


class EmailPreviewOut(BaseModel):
    source: Origin
    resolved_locale: str
    subject: str
    text: str
    html: str


def _locale(locale: str) -> str:
    canonical = canonical_locale(locale)
    if not is_known_locale(canonical):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown locale {canonical!r}")
    return canonical


def _summary_key(summary: StoredTemplateSummary) -> tuple[str, str, str]:
    return (summary.key, summary.locale, summary.channel.value)


@router.get(
    "",
    response_model=Page[StoredTemplateSummary],
    summary="Stored templates (operators' copies), with their versions",
)
async def list_templates(
    store: Store, page: PageQuery, request: Request, response: Response
) -> Page[StoredTemplateSummary]:
    """By key, locale and channel. Operators store a few dozen at most: the page is cut from
    the whole list."""
    stored = [
        StoredTemplateSummary(
            key=row.key,
            locale=row.locale,
            channel=Channel(row.channel),
            version=row.version,
            updated_at=row.updated_at,
        )
        for row in await store.list()
    ]
    items, last = list_page(stored, _summary_key, (str, str, str), page, {})
    return Page[StoredTemplateSummary](
        items=items, next_cursor=next_cursor(last, {}, request, response)
    )


@router.get(
    "/{key}/{locale}/{channel}",
    summary="The template in force: stored or default",
    responses=UNPROCESSABLE,
)
async def get_template(
    key: Key, locale: LocaleParam, channel: Channel, renderer: Renderer
) -> TemplateOut:
    canonical = _locale(locale)
    found = await renderer.resolve(key, canonical, channel.value)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {channel.value} template {key!r}")
    return TemplateOut(
        key=key,
        locale=canonical,
        resolved_locale=found.locale,
        channel=channel,
        source=found.origin,
        version=found.version,
        updated_at=found.updated_at,
        subject=found.source.subject,
        text_body=found.source.text_body,
        html_body=found.source.html_body,
    )


@router.put(
    "/{key}/{locale}/{channel}",
    summary="Validate and save; 422 with the reason when refused",
    responses={422: UNPROCESSABLE[422] | {"description": "refused: the detail says why"}},
    openapi_extra=NEVER_NOT_FOUND,  # saving creates what the path names
)
async def put_template(
    key: Key,
    locale: LocaleParam,
    channel: Channel,
    body: TemplateIn,
    renderer: Renderer,
    store: Store,
    clock: AppClock,
) -> SavedOut:
    canonical = _locale(locale)
    try:
        warnings = await renderer.validate(
            key, canonical, channel.value, body.subject, body.text_body, body.html_body
        )
    except TemplateProblem as problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(problem)) from None
    saved = await store.put(
        key,
        canonical,
        channel.value,
        subject=body.subject,
        text_body=body.text_body,
        html_body=body.html_body,
        now=clock.now(),
    )
    return SavedOut(
        key=saved.key,
        locale=saved.locale,
        channel=channel,
        version=saved.version,
        updated_at=saved.updated_at,
        warnings=warnings,
    )


@router.delete(
    "/{key}/{locale}/{channel}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete the stored copy: the packaged default applies again",
)
async def delete_template(
    key: Key, locale: LocaleParam, channel: Channel, store: Store
) -> Response:
    if not await store.delete(key, canonical_locale(locale), channel.value):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "nothing stored: the default applies")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{key}/{locale}/{channel}/preview",
    summary="Render with sample data (the template in force, or a draft)",
    responses=UNPROCESSABLE,
)
async def preview_template(
    key: Key, locale: LocaleParam, channel: Channel, body: PreviewIn, renderer: Renderer
) -> SmsPreviewOut | EmailPreviewOut:
    canonical = _locale(locale)
    if body.text_body is None and await renderer.resolve(key, canonical, channel.value) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {channel.value} template {key!r}")
    ctx = sample_context(
        key,
        canonical,
        nudge_number=body.nudge_number,
        kind=body.ritual_kind.value if body.ritual_kind else None,
        support_focus=body.support_focus,
        module=body.module,
        with_links=body.with_links,
        channel=channel,
    )
    try:
        if body.text_body is not None:
            # A draft is rendered as written, with no reminder line.
            template = ResolvedTemplate(
                key,
                canonical,
                channel.value,
                TemplateSource(body.subject, body.text_body, body.html_body),
                Origin.draft,
            )
            as_reminder = False
        else:
            template, as_reminder = await renderer.template_for(key, ctx, channel.value)
        if channel is Channel.sms:
            sms = await renderer.render_sms_source(template, ctx, as_reminder=as_reminder)
            warnings = list(sms.warnings)
            if sms.segments > renderer.sms_max_segments:
                warnings.append(
                    f"more than the maximum {renderer.sms_max_segments} segments: "
                    "it would be refused"
                )
            return SmsPreviewOut(
                source=template.origin,
                resolved_locale=template.locale,
                text=sms.text,
                segments=sms.segments,
                encoding=sms.encoding,
                warnings=warnings,
            )
        email = await renderer.render_email_source(template, ctx, as_reminder=as_reminder)
    except TemplateProblem as problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(problem)) from None
    return EmailPreviewOut(
        source=template.origin,
        resolved_locale=template.locale,
        subject=email.subject,
        text=email.text,
        html=email.html,
    )
