"""The check-in questions we ask, as the validated instruments define them (see
docs: shared/reference/indicators.md), worded in English and Spanish.

Option values are the instruments' own codes, so insights can score an answer without ever
seeing its wording, and a translation can never change a score. Spanish wording is our
translation of the English items: keep the meaning, never the codes, when editing it.

A weekly check-in is the anchor item (ONS direct loneliness, every week) plus one rotating
module of at most three items, chosen by the ISO week number modulo 4, so nobody is sent a long
survey by text and every item comes round once in four weeks. A module may add items that are
asked on the e-mail answer form only (``Item.form_only``: the five WHO-5 statements, too long
for a text): what a check-in asks depends on the channel it is asked and answered through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from shared.contracts import Channel

FALLBACK_LOCALE = "en"
NUDGE_SUFFIX = "_nudge"

# Template keys whose prompt asks the check-in questions. Every other kind is a reminder.
QUESTION_TEMPLATE_KEYS = frozenset({"check_in"})


class InvalidAnswer(ValueError):
    """An answer that does not fit the questionnaire.

    The message says what was expected (counts, positions, allowed codes, item keys) and never
    repeats what was sent, so it can be logged and shown back to the person.
    """


def canonical_locale(locale: str) -> str:
    """``es_mx`` and ``ES-mx`` -> ``es-MX``: one spelling for storage and comparison.

    Language in lower case, a two-letter region in upper case, a four-letter script in title
    case (``zh-Hant-TW``); anything else is kept as written.
    """
    parts = [part for part in locale.replace("_", "-").split("-") if part]
    if not parts:
        return ""
    formatted = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            formatted.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            formatted.append(part.title())
        else:
            formatted.append(part)
    return "-".join(formatted)


def locale_fallbacks(locale: str) -> tuple[str, ...]:
    """The locales to try, in order: the locale itself, its language, then English.

    ``es-MX`` -> ``("es-MX", "es", "en")``. Wording and templates resolve in this one order.
    """
    canonical = canonical_locale(locale)
    language = canonical.split("-")[0]
    return tuple(
        candidate
        for candidate in dict.fromkeys([canonical, language, FALLBACK_LOCALE])
        if candidate
    )


def _localised(texts: Mapping[str, str], locale: str) -> str:
    for candidate in locale_fallbacks(locale):
        if candidate in texts:
            return texts[candidate]
    raise LookupError("no wording in the fallback locale")  # the tests make every item complete


@dataclass(frozen=True)
class Option:
    value: int
    """The instrument's code for this answer."""
    labels: Mapping[str, str]
    """Locale -> label; must contain ``"en"``."""

    def label(self, locale: str) -> str:
        """The label in ``locale``, else its language, else English."""
        return _localised(self.labels, locale)


@dataclass(frozen=True)
class Item:
    key: str
    prompts: Mapping[str, str]
    options: tuple[Option, ...]
    instrument: str
    """Which instrument the item and its codes come from, e.g. ``"UCLA-3"``."""
    validated: bool = True
    """False for items we adapted ourselves: insights should label them as such."""
    form_only: bool = False
    """Asked on the e-mail answer form only, never by SMS (and with no one-tap links: the form
    asks it together with the rest of its instrument)."""
    intro: Mapping[str, str] | None = None
    """The instrument's instructions for a run of its items (locale -> text), shown once before
    the first of them; None if the prompt stands on its own."""

    def prompt(self, locale: str) -> str:
        """The question in ``locale``, else its language, else English."""
        return _localised(self.prompts, locale)

    def intro_text(self, locale: str) -> str | None:
        return None if self.intro is None else _localised(self.intro, locale)

    def asked_by(self, channel: Channel) -> bool:
        """Whether a check-in sent (and answered) through ``channel`` asks this item."""
        return channel is Channel.email or not self.form_only

    def option(self, value: int) -> Option | None:
        return next((option for option in self.options if option.value == value), None)

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)


def _options(*labels: tuple[int, str, str]) -> tuple[Option, ...]:
    return tuple(Option(value, MappingProxyType({"en": en, "es": es})) for value, en, es in labels)


def _prompts(en: str, es: str) -> Mapping[str, str]:
    return MappingProxyType({"en": en, "es": es})


# UK Office for National Statistics, direct measure of loneliness. 1 = chronic loneliness.
ONS_LONELINESS = Item(
    key="ons_loneliness",
    prompts=_prompts(
        "How often do you feel lonely?", "¿Con qué frecuencia te sientes solo o sola?"
    ),
    options=_options(
        (1, "Often/always", "A menudo/siempre"),
        (2, "Some of the time", "Algunas veces"),
        (3, "Occasionally", "De vez en cuando"),
        (4, "Hardly ever", "Casi nunca"),
        (5, "Never", "Nunca"),
    ),
    instrument="ONS-loneliness",
)

# Three-item UCLA Loneliness Scale (Hughes et al. 2004): sum 3-9, 6 or more = lonely.
_UCLA_SCALE = _options(
    (1, "Hardly ever", "Casi nunca"),
    (2, "Some of the time", "Algunas veces"),
    (3, "Often", "A menudo"),
)
UCLA_COMPANIONSHIP = Item(
    key="ucla_companionship",
    prompts=_prompts(
        "How often do you feel that you lack companionship?",
        "¿Con qué frecuencia sientes que te falta compañía?",
    ),
    options=_UCLA_SCALE,
    instrument="UCLA-3",
)
UCLA_LEFT_OUT = Item(
    key="ucla_left_out",
    prompts=_prompts(
        "How often do you feel left out?", "¿Con qué frecuencia te sientes excluido o excluida?"
    ),
    options=_UCLA_SCALE,
    instrument="UCLA-3",
)
UCLA_ISOLATED = Item(
    key="ucla_isolated",
    prompts=_prompts(
        "How often do you feel isolated from others?",
        "¿Con qué frecuencia te sientes aislado o aislada de los demás?",
    ),
    options=_UCLA_SCALE,
    instrument="UCLA-3",
)

# US BRFSS emotional support: always/usually = sufficient.
EMOTIONAL_SUPPORT = Item(
    key="brfss_emotional_support",
    prompts=_prompts(
        "How often do you get the social and emotional support you need?",
        "¿Con qué frecuencia recibes el apoyo social y emocional que necesitas?",
    ),
    options=_options(
        (1, "Always", "Siempre"),
        (2, "Usually", "Casi siempre"),
        (3, "Sometimes", "A veces"),
        (4, "Rarely", "Rara vez"),
        (5, "Never", "Nunca"),
    ),
    instrument="BRFSS-emotional-support",
)

# MOS Social Support Survey, informational item: most/all of the time.
INFORMATIONAL_SUPPORT = Item(
    key="mos_informational",
    prompts=_prompts(
        "How often is someone available to give you good advice about a crisis?",
        "¿Con qué frecuencia tienes a alguien que te dé buenos consejos en una crisis?",
    ),
    options=_options(
        (1, "None of the time", "Nunca"),
        (2, "A little of the time", "Pocas veces"),
        (3, "Some of the time", "Algunas veces"),
        (4, "Most of the time", "Casi siempre"),
        (5, "All of the time", "Siempre"),
    ),
    instrument="MOS-SSS",
)

# Oslo Social Support Scale (OSSS-3): three items with their own scales, sum 3-14;
# 3-8 poor, 9-11 moderate, 12-14 strong. Plain hyphens in "1-2": an en dash is not GSM-7.
OSSS_CLOSE_PEOPLE = Item(
    key="osss_close_people",
    prompts=_prompts(
        "How many people are so close to you that you can count on them if you have great "
        "personal problems?",
        "¿Cuántas personas tienes tan cerca que puedes contar con ellas si tienes problemas "
        "personales graves?",
    ),
    options=_options(
        (1, "None", "Ninguna"),
        (2, "1-2", "1-2"),
        (3, "3-5", "3-5"),
        (4, "6 or more", "6 o más"),
    ),
    instrument="OSSS-3",
)
OSSS_CONCERN = Item(
    key="osss_concern",
    prompts=_prompts(
        "How much interest and concern do people show in what you do?",
        "¿Cuánto interés y preocupación muestran los demás por lo que haces?",
    ),
    options=_options(
        (1, "None", "Ninguno"),
        (2, "Little", "Poco"),
        (3, "Uncertain", "No lo sé"),
        (4, "Some", "Algo"),
        (5, "A lot", "Mucho"),
    ),
    instrument="OSSS-3",
)
OSSS_NEIGHBOURS = Item(
    key="osss_neighbours",
    prompts=_prompts(
        "How easy is it to get practical help from neighbours if you should need it?",
        "¿Qué tan fácil es conseguir ayuda práctica de tus vecinos si la necesitas?",
    ),
    options=_options(
        (1, "Very difficult", "Muy difícil"),
        (2, "Difficult", "Difícil"),
        (3, "Possible", "Posible"),
        (4, "Easy", "Fácil"),
        (5, "Very easy", "Muy fácil"),
    ),
    instrument="OSSS-3",
)

# Statistics Canada, sense of belonging to the local community: very/somewhat strong.
BELONGING = Item(
    key="statcan_belonging",
    prompts=_prompts(
        "How would you describe your sense of belonging to your local community?",
        "¿Cómo describirías tu sentido de pertenencia a tu comunidad local?",
    ),
    options=_options(
        (1, "Very strong", "Muy fuerte"),
        (2, "Somewhat strong", "Bastante fuerte"),
        (3, "Somewhat weak", "Bastante débil"),
        (4, "Very weak", "Muy débil"),
    ),
    instrument="StatCan-belonging",
)

# Adapted from the Lubben Social Network Scale (relative -> "friend or relative"), with its
# 0-5 frequency codes: 3 or more = weekly or more. Not validated in this form.
REGULAR_CONTACT = Item(
    key="regular_contact",
    prompts=_prompts(
        "How often do you see or hear from the friend or relative you have most contact with?",
        "¿Con qué frecuencia ves o sabes del amigo o familiar con quien más contacto tienes?",
    ),
    options=_options(
        (0, "Less than monthly", "Menos de una vez al mes"),
        (1, "Monthly", "Una vez al mes"),
        (2, "A few times a month", "Varias veces al mes"),
        (3, "Weekly", "Cada semana"),
        (4, "A few times a week", "Varias veces por semana"),
        (5, "Daily", "A diario"),
    ),
    instrument="LSNS-adapted",
    validated=False,
)

# WHO-5 Well-Being Index (WHO Regional Office for Europe, 1998): five statements about the
# last two weeks, each 0-5, listed as the instrument lists them (5 "All of the time" first).
# Raw score 0-25, x4 = 0-100; 50 or less (raw 12 or less) = poor wellbeing. Five six-point
# items do not fit a text message, so they are asked on the e-mail answer form only.
# Spanish: the items and answers as published in the WHO-5's Spanish version (as we know it;
# check against the published PDF when editing); the instructions are worded with "tú" like
# the rest of our Spanish, which changes no item.
_WHO5_SCALE = _options(
    (5, "All of the time", "Todo el tiempo"),
    (4, "Most of the time", "La mayor parte del tiempo"),
    (3, "More than half of the time", "Más de la mitad del tiempo"),
    (2, "Less than half of the time", "Menos de la mitad del tiempo"),
    (1, "Some of the time", "De vez en cuando"),
    (0, "At no time", "Nunca"),
)
_WHO5_INTRO = _prompts(
    "For each of the five statements, choose the answer closest to how you have been feeling "
    "over the last two weeks.",
    "Para cada una de las cinco afirmaciones, elige la respuesta que mejor describe cómo te "
    "has sentido durante las últimas dos semanas.",
)


def _who5(key: str, en: str, es: str) -> Item:
    return Item(
        key=key,
        prompts=_prompts(en, es),
        options=_WHO5_SCALE,
        instrument="WHO-5",
        form_only=True,
        intro=_WHO5_INTRO,
    )


WHO5_ITEMS = (
    _who5(
        "who5_cheerful",
        "I have felt cheerful and in good spirits",
        "Me he sentido alegre y de buen humor",
    ),
    _who5("who5_calm", "I have felt calm and relaxed", "Me he sentido tranquilo y relajado"),
    _who5("who5_active", "I have felt active and vigorous", "Me he sentido activo y enérgico"),
    _who5(
        "who5_rested",
        "I woke up feeling fresh and rested",
        "Me he despertado fresco y descansado",
    ),
    _who5(
        "who5_interest",
        "My daily life has been filled with things that interest me",
        "Mi vida cotidiana ha estado llena de cosas que me interesan",
    ),
)

ANCHOR = ONS_LONELINESS

# Index = ISO week number % 4. At most three items each by SMS, so a text check-in is at most
# four questions. WHO-5 joins week 3: it is one of the two shortest modules (with week 1),
# and week 1 is asked twice running after a year with an ISO week 53 (53 % 4 == 1), where
# WHO-5's two-week recall would overlap; week 3 comes exactly once in every four-week period
# (shared.weeks: P01 = weeks 1-4; P14, a week 53 alone, has none), so a person answers WHO-5
# at most once per period.
MODULES: tuple[tuple[Item, ...], ...] = (
    (UCLA_COMPANIONSHIP, UCLA_LEFT_OUT, UCLA_ISOLATED),
    (EMOTIONAL_SUPPORT, INFORMATIONAL_SUPPORT),
    (OSSS_CLOSE_PEOPLE, OSSS_CONCERN, OSSS_NEIGHBOURS),
    (BELONGING, REGULAR_CONTACT, *WHO5_ITEMS),
)

ITEMS: Mapping[str, Item] = MappingProxyType(
    {item.key: item for item in (ANCHOR, *(item for module in MODULES for item in module))}
)


@dataclass(frozen=True)
class Questionnaire:
    key: str
    """``weekly_w<n>``, n = ISO week number % 4: which module was asked."""
    items: tuple[Item, ...]
    """The anchor first, then the week's module, in the order they are numbered."""

    def item(self, key: str) -> Item | None:
        return next((item for item in self.items if item.key == key), None)

    def intro_before(self, position: int, locale: str) -> str | None:
        """The instructions to show before ``items[position]``: its intro, when it starts a run
        of items sharing one (the WHO-5 statements), else None."""
        item = self.items[position]
        previous = self.items[position - 1] if position > 0 else None
        if item.intro is None or (previous is not None and previous.intro == item.intro):
            return None
        return item.intro_text(locale)

    def parse_numbers(self, numbers: tuple[int, ...]) -> dict[str, int]:
        """Item key -> code, from the numbers of an SMS reply ("4 2 1 3").

        The rule: as many numbers as questions asked by SMS answer them in order; a single
        number answers the first question (the anchor), whatever the number of questions,
        because "how lonely" is the one answer people give on its own. Any other count is
        refused rather than guessed; items asked on the e-mail form only are never answered
        by numbers, whichever questionnaire this is. Raises ``InvalidAnswer``.
        """
        if not numbers:
            raise InvalidAnswer("no answer: reply with numbers")
        asked = [item for item in self.items if item.asked_by(Channel.sms)]
        count = len(asked)
        if len(numbers) == count:
            pairs = list(zip(asked, numbers, strict=True))
        elif len(numbers) == 1 and asked:
            pairs = [(asked[0], numbers[0])]
        else:
            raise InvalidAnswer(
                f"expected {count} numbers, one per question, or a single number for "
                f"question 1; got {len(numbers)}"
            )
        answers: dict[str, int] = {}
        for position, (item, value) in enumerate(pairs, start=1):
            if item.option(value) is None:
                raise InvalidAnswer(f"answer {position} must be one of {_allowed(item)}")
            answers[item.key] = value
        return answers

    def parse_form(self, fields: Mapping[str, str]) -> dict[str, int]:
        """Item key -> code, from the e-mail answer form (field name = item key).

        Questions may be skipped (a missing or empty field), but at least one must be
        answered. A field that is not one of this check-in's items, or a value that is not one
        of the item's codes, is refused. Raises ``InvalidAnswer``.
        """
        answers: dict[str, int] = {}
        for name, raw in fields.items():
            item = self.item(name)
            if item is None:
                # The name is not echoed: it came from outside.
                raise InvalidAnswer("the form has a field that is not a question of this check-in")
            text = raw.strip()
            if not text:
                continue
            try:
                value = int(text)
            except ValueError:
                raise InvalidAnswer(f"{item.key} must be one of {_allowed(item)}") from None
            if item.option(value) is None:
                raise InvalidAnswer(f"{item.key} must be one of {_allowed(item)}")
            answers[item.key] = value
        if not answers:
            raise InvalidAnswer("no answer: choose at least one")
        return answers


def _allowed(item: Item) -> str:
    return ", ".join(str(value) for value in item.values)


def module_index(local_date: date) -> int:
    """Which module a check-in on ``local_date`` asks: ISO week number % 4.

    A year with an ISO week 53 repeats module 1 in the week after it (53 % 4 == 1 % 4); the
    rotation stays tied to the week number so a week means the same module in every community.
    """
    return local_date.isocalendar().week % len(MODULES)


def questionnaire_key(template_key: str, local_date: date) -> str | None:
    """``weekly_w<n>`` for a prompt that asks the check-in questions, else None. The same for
    every channel: it names the week's module, whatever the channel asks of it."""
    base = template_key.removesuffix(NUDGE_SUFFIX)
    if base not in QUESTION_TEMPLATE_KEYS:
        return None
    return f"weekly_w{module_index(local_date)}"


def questionnaire_for(
    template_key: str, local_date: date, channel: Channel
) -> Questionnaire | None:
    """What a prompt with ``template_key`` asks on ``local_date`` (the member's local date of
    the occurrence) through ``channel``, or None for reminder kinds that ask nothing.

    The channel is the one the questions are asked and answered through: an SMS asks (and an
    SMS reply answers) the items asked by SMS; the e-mail and its answer form add the week's
    form-only items. A nudge key (``check_in_nudge``) asks what its prompt asked.
    """
    key = questionnaire_key(template_key, local_date)
    if key is None:
        return None
    module = MODULES[module_index(local_date)]
    asked = tuple(item for item in (ANCHOR, *module) if item.asked_by(channel))
    return Questionnaire(key=key, items=asked)
