"""What a prompt is rendered from (``PromptContext``) and what templates see of it.

Template variables (the contract operators write against):

``questions``        list of questions in order, each with ``number`` (1-based), ``key``,
                     ``prompt``, ``instrument``, ``options`` (each ``value``, ``label``, ``url``:
                     a one-tap link to the answer form with that answer chosen, or None),
                     ``scale`` ("1=Hardly ever, 2=Some of the time, 3=Often"),
                     ``same_scale_as_next`` (so an SMS can state a shared scale once),
                     ``form_only`` (answered on the e-mail answer form, no one-tap links:
                     the WHO-5 statements; only e-mails ask these) and ``intro`` (the
                     instrument's instructions, on the first of a run of items sharing
                     them, else None); empty when the prompt asks nothing
``question_count``   len(questions)
``questionnaire_key``  e.g. ``weekly_w1``, or None
``sms_example``      a valid example SMS reply to the questions ("4 3 2 1"), or None
``answer_url``       the answer form (an e-mail's, and a check-in text's for the questions
                     beyond the anchor), or None
``unsubscribe_url``  or None (a standard line is added when a template leaves it out)
``preferences_url``  the member's preferences page (pause, stop, channel, quiet hours,
                     language), or None (e-mail: a standard line is added when left out)
``respond_by``       aware datetime; show it with ``format_datetime`` (member's zone/locale)
``timezone``, ``locale``, ``language``  the member's zone and the rendering locale
``kind``             check_in | shared_activity | reach_out | gratitude | group_event
``nudge_number``     0 for the prompt, n for the n-th reminder; ``is_reminder`` = n >= 1
``support_focus``    emotional | informational | practical | belonging, or None

Helpers: ``format_datetime``, ``format_date``, ``format_time``, ``format_number``,
``plural(n, one=..., other=...)``, ``ngettext(singular, plural, n)`` (see ``formatting``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from services.notifier.domain.questionnaire import Item, Questionnaire
from shared.contracts import Channel, RitualKind

SUPPORT_FOCUSES = ("emotional", "informational", "practical", "belonging")
RITUAL_KINDS = tuple(kind.value for kind in RitualKind)


@dataclass(frozen=True)
class PromptContext:
    """Everything a prompt or service text may say, and nothing personal: no names, no
    addresses. Checked on construction, so a wiring mistake fails where it is made."""

    questionnaire: Questionnaire | None
    locale: str
    timezone: str
    respond_by: datetime
    """Aware; shown in ``timezone``."""
    answer_url: str | None
    option_urls: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    """Item key -> code -> one-tap link to the form with that answer chosen. May be empty."""
    unsubscribe_url: str | None = None
    preferences_url: str | None = None
    ritual_kind: str = RitualKind.check_in.value
    nudge_number: int = 0
    support_focus: str | None = None

    def __post_init__(self) -> None:
        if self.respond_by.tzinfo is None:
            raise ValueError("respond_by must be timezone-aware (UTC)")
        if self.nudge_number < 0:
            raise ValueError("nudge_number must be 0 or more")
        if self.ritual_kind not in RITUAL_KINDS:
            raise ValueError(f"ritual_kind must be one of {', '.join(RITUAL_KINDS)}")
        if self.support_focus is not None and self.support_focus not in SUPPORT_FOCUSES:
            raise ValueError(f"support_focus must be one of {', '.join(SUPPORT_FOCUSES)}")


@dataclass(frozen=True)
class OptionView:
    value: int
    label: str
    url: str | None


@dataclass(frozen=True)
class QuestionView:
    number: int
    key: str
    prompt: str
    instrument: str
    options: tuple[OptionView, ...]
    scale: str
    same_scale_as_next: bool
    form_only: bool = False
    intro: str | None = None


def example_reply(questionnaire: Questionnaire) -> str:
    """A valid SMS reply that reads as a format example, not a suggested answer: it walks
    through each SMS item's codes at a different point ("4 3 2 1")."""
    by_sms = (item for item in questionnaire.items if item.asked_by(Channel.sms))
    values = (
        item.options[(2 * position + 3) % len(item.options)].value
        for position, item in enumerate(by_sms)
    )
    return " ".join(str(value) for value in values)


def _scale(item: Item, locale: str) -> str:
    return ", ".join(f"{option.value}={option.label(locale)}" for option in item.options)


def question_views(
    questionnaire: Questionnaire | None,
    locale: str,
    option_urls: Mapping[str, Mapping[int, str]],
) -> tuple[QuestionView, ...]:
    if questionnaire is None:
        return ()
    scales = [_scale(item, locale) for item in questionnaire.items]
    return tuple(
        QuestionView(
            number=number,
            key=item.key,
            prompt=item.prompt(locale),
            instrument=item.instrument,
            options=tuple(
                OptionView(
                    option.value,
                    option.label(locale),
                    option_urls.get(item.key, {}).get(option.value),
                )
                for option in item.options
            ),
            scale=scales[number - 1],
            same_scale_as_next=number < len(scales) and scales[number] == scales[number - 1],
            form_only=item.form_only,
            intro=questionnaire.intro_before(number - 1, locale),
        )
        for number, item in enumerate(questionnaire.items, start=1)
    )


def template_variables(ctx: PromptContext, locale: str) -> Mapping[str, Any]:
    """The variables above, worded in ``locale`` (the rendering locale)."""
    questions = question_views(ctx.questionnaire, locale, ctx.option_urls)
    return MappingProxyType(
        {
            "questions": questions,
            "question_count": len(questions),
            "questionnaire_key": ctx.questionnaire.key if ctx.questionnaire else None,
            "sms_example": example_reply(ctx.questionnaire) if ctx.questionnaire else None,
            "answer_url": ctx.answer_url,
            "unsubscribe_url": ctx.unsubscribe_url,
            "preferences_url": ctx.preferences_url,
            "respond_by": ctx.respond_by,
            "timezone": ctx.timezone,
            "locale": locale,
            "language": locale.split("-")[0],
            "kind": ctx.ritual_kind,
            "nudge_number": ctx.nudge_number,
            "is_reminder": ctx.nudge_number >= 1,
            "support_focus": ctx.support_focus,
        }
    )
