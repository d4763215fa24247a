"""``rituals template preview KEY --locale L --channel sms|email [--nudge N] [--kind KIND]``:
a packaged template rendered with sample data, as a member would get it, without a database.

For SMS the last line gives segments, encoding and warnings; for e-mail the subject, the text
part and the HTML part are printed one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.notifier.domain.questionnaire import MODULES, canonical_locale
from services.notifier.templating.context import RITUAL_KINDS, SUPPORT_FOCUSES
from services.notifier.templating.formatting import is_known_locale
from services.notifier.templating.problems import TemplateProblem
from services.notifier.templating.renderer import PromptRenderer
from services.notifier.templating.samples import sample_context
from services.notifier.templating.sources import CHANNELS
from services.notifier.templating.store import InMemoryStoredTemplates
from shared.contracts import Channel


class PreviewError(ValueError):
    """What the operator asked for does not exist; the message says what does."""


def add_template_preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", help="template key, e.g. check_in, reach_out, sms_help")
    parser.add_argument("--locale", default="en", help="member locale, e.g. en, es, es-MX")
    parser.add_argument("--channel", required=True, help="sms or email")
    parser.add_argument("--nudge", type=int, default=0, help="0 = the prompt, n = n-th reminder")
    parser.add_argument("--kind", help=f"ritual kind: {', '.join(RITUAL_KINDS)}")
    parser.add_argument("--focus", help=f"support focus: {', '.join(SUPPORT_FOCUSES)}")
    parser.add_argument(
        "--week", type=int, help="ISO week number: which question module (week %% 4)"
    )


async def preview_template(
    key: str,
    locale: str,
    channel: str,
    nudge: int = 0,
    *,
    kind: str | None = None,
    focus: str | None = None,
    week: int | None = None,
) -> str:
    """The printable rendering. Raises ``PreviewError`` for an unknown key, locale, channel,
    kind, focus or week, ``TemplateProblem`` if a packaged template fails (a bug)."""
    # Packaged templates only: they render in-process, so no render worker ever starts here.
    renderer = PromptRenderer(InMemoryStoredTemplates())
    packaged = renderer.packaged
    known = packaged.template_keys()
    if key not in known:
        raise PreviewError(f"unknown template {key!r}; known: {', '.join(known)}")
    if channel not in CHANNELS:
        raise PreviewError(f"unknown channel {channel!r}; use {' or '.join(CHANNELS)}")
    if channel not in packaged.channels(key):
        raise PreviewError(
            f"{key} has no {channel} template; it has {', '.join(packaged.channels(key))}"
        )
    canonical = canonical_locale(locale)
    if not is_known_locale(canonical):
        raise PreviewError(f"unknown locale {locale!r}; e.g. en, es, es-MX")
    if nudge < 0:
        raise PreviewError("--nudge must be 0 or more")
    if kind is not None and kind not in RITUAL_KINDS:
        raise PreviewError(f"unknown kind {kind!r}; known: {', '.join(RITUAL_KINDS)}")
    if focus is not None and focus not in SUPPORT_FOCUSES:
        raise PreviewError(f"unknown focus {focus!r}; known: {', '.join(SUPPORT_FOCUSES)}")
    if week is not None and not 1 <= week <= 53:
        raise PreviewError("--week must be an ISO week number, 1 to 53")
    ctx = sample_context(
        key,
        canonical,
        nudge_number=nudge,
        kind=kind,
        support_focus=focus,
        module=week % len(MODULES) if week is not None else None,
        channel=Channel(channel),
    )
    template, as_reminder = await renderer.template_for(key, ctx, channel)
    heading = f"{template.key}/{template.locale} ({template.origin.value}"
    if template.locale != canonical:
        heading += f"; {canonical} falls back to {template.locale}"
    if as_reminder:
        heading += "; no _nudge template, sent with a reminder line"
    heading += ")"
    if ctx.questionnaire is not None:
        heading += f", questions {ctx.questionnaire.key}"
    if channel == "sms":
        sms = await renderer.render_sms_source(template, ctx, as_reminder=as_reminder)
        warnings = "; ".join(sms.warnings) or "none"
        return (
            f"{heading}\n{'-' * 40}\n{sms.text}\n{'-' * 40}\n"
            f"{sms.segments} segment{'' if sms.segments == 1 else 's'}, {sms.encoding}; "
            f"warnings: {warnings}\n"
        )
    email = await renderer.render_email_source(template, ctx, as_reminder=as_reminder)
    return (
        f"{heading}\nSubject: {email.subject}\n\n--- text ---\n{email.text}\n\n"
        f"--- html ---\n{email.html}\n"
    )


def run_template_preview(args: argparse.Namespace) -> int:
    """0 when printed; 2 for an unknown key/locale/channel (message on stderr); 1 when a
    packaged template fails to render."""
    try:
        output = asyncio.run(
            preview_template(
                args.key,
                args.locale,
                args.channel,
                args.nudge,
                kind=args.kind,
                focus=args.focus,
                week=args.week,
            )
        )
    except PreviewError as error:
        sys.stderr.write(f"rituals: {error}\n")
        return 2
    except TemplateProblem as problem:
        sys.stderr.write(f"rituals: {problem}\n")
        return 1
    sys.stdout.write(output)
    return 0
