"""Dates, times, numbers and plurals in the member's zone and language, with Babel (CLDR).

Templates reach these as filters and globals (see ``sandbox``); the zone and locale default to
the member's, so ``{{ respond_by|format_datetime("EEEE d MMMM, HH:mm") }}`` says "Wednesday 6
January, 09:00" in English and, with the Spanish template's own pattern ``"EEEE, d 'de' MMMM,
HH:mm"``, "miércoles, 6 de enero, 09:00". A format is a CLDR pattern or one of Babel's named
lengths (``short``, ``medium``, ``long``, ``full``).

Instants must be timezone-aware: a naive datetime is refused rather than guessed at.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from services.notifier.domain.questionnaire import locale_fallbacks

PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


@lru_cache(maxsize=256)
def babel_locale(locale: str) -> Locale:
    """The Babel locale for ``locale``, falling back to its language, then English."""
    for candidate in locale_fallbacks(locale):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


def is_known_locale(locale: str) -> bool:
    """True when Babel (CLDR) knows ``locale`` itself, without falling back."""
    try:
        Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("format_datetime needs a timezone-aware datetime")
    return value


def format_datetime(value: datetime, pattern: str, zone: str, locale: str) -> str:
    """``value`` as wall-clock time in ``zone``, in ``locale``."""
    return babel_dates.format_datetime(
        _aware(value), pattern, tzinfo=ZoneInfo(zone), locale=babel_locale(locale)
    )


def format_date(value: date, pattern: str, zone: str, locale: str) -> str:
    """The calendar date of ``value`` in ``zone`` (a plain date is taken as it is)."""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(ZoneInfo(zone)).date()
    return babel_dates.format_date(value, pattern, locale=babel_locale(locale))


def format_time(value: datetime, pattern: str, zone: str, locale: str) -> str:
    return babel_dates.format_time(
        _aware(value), pattern, tzinfo=ZoneInfo(zone), locale=babel_locale(locale)
    )


def format_number(value: float, locale: str) -> str:
    return babel_numbers.format_decimal(value, locale=babel_locale(locale))


def plural_category(count: float, locale: str) -> str:
    """CLDR plural category of ``count`` in ``locale``: one, other, many (Spanish millions)…"""
    return babel_locale(locale).plural_form(count)


def plural(count: float, locale: str, forms: dict[str, str]) -> str:
    """The form for ``count``'s plural category, else ``other``."""
    category = plural_category(count, locale)
    if category in forms:
        return forms[category]
    if "other" not in forms:
        raise ValueError("plural() needs at least other=")
    return forms["other"]


def ngettext(singular: str, plural_form: str, count: float, locale: str) -> str:
    """gettext's ``ngettext`` with CLDR rules: ``singular`` for the "one" category, else
    ``plural_form``; ``%(num)s`` / ``%(num)d`` become the localised number (no %-formatting of
    operator text)."""
    text = singular if plural_category(count, locale) == "one" else plural_form
    number = format_number(count, locale)
    return text.replace("%(num)s", number).replace("%(num)d", number)
