"""Dates in the member's zone and language (Babel), across DST changes; plurals by CLDR."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.notifier.templating import PromptRenderer, TemplateProblem
from services.notifier.templating.formatting import (
    babel_locale,
    format_date,
    format_datetime,
    ngettext,
    plural,
)
from services.notifier.templating.samples import sample_context
from services.notifier.templating.sandbox import PromptSandbox, SandboxLimits

EN = "EEEE d MMMM, HH:mm"
ES = "EEEE, d 'de' MMMM, HH:mm"


async def test_the_packaged_check_in_says_the_deadline_in_each_language(
    renderer: PromptRenderer,
) -> None:
    respond_by = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
    english = replace(
        sample_context("check_in", "en-GB"), respond_by=respond_by, timezone="Europe/London"
    )
    spanish = replace(english, locale="es")
    assert (
        "Please reply by Wednesday 6 January, 09:00."
        in (await renderer.render_email("check_in", english)).text
    )
    assert (
        "Responde antes del miércoles, 6 de enero, 09:00."
        in (await renderer.render_email("check_in", spanish)).text
    )


@pytest.mark.parametrize(
    ("instant", "zone", "locale", "pattern", "expected"),
    [
        # Europe/Madrid: CET (+1) until 02:00 on Sunday 28 March 2027, then CEST (+2).
        ("2027-03-27T08:00Z", "Europe/Madrid", "es", ES, "sábado, 27 de marzo, 09:00"),
        ("2027-03-29T08:00Z", "Europe/Madrid", "es", ES, "lunes, 29 de marzo, 10:00"),
        # Europe/London: GMT until 28 March 2027, then BST.
        ("2027-03-27T09:00Z", "Europe/London", "en", EN, "Saturday 27 March, 09:00"),
        ("2027-03-29T09:00Z", "Europe/London", "en", EN, "Monday 29 March, 10:00"),
        # America/New_York: EST until 14 March 2027, then EDT; and back on 7 November.
        ("2027-03-13T14:00Z", "America/New_York", "en", EN, "Saturday 13 March, 09:00"),
        ("2027-03-15T14:00Z", "America/New_York", "en", EN, "Monday 15 March, 10:00"),
        ("2027-11-06T14:00Z", "America/New_York", "es-MX", ES, "sábado, 6 de noviembre, 10:00"),
        ("2027-11-08T14:00Z", "America/New_York", "es-MX", ES, "lunes, 8 de noviembre, 09:00"),
    ],
)
def test_dates_are_local_wall_time_across_dst(
    instant: str, zone: str, locale: str, pattern: str, expected: str
) -> None:
    value = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    assert format_datetime(value, pattern, zone, locale) == expected


def test_the_local_date_is_the_zones_not_utcs() -> None:
    late_evening_in_new_york = datetime(2027, 1, 7, 3, 0, tzinfo=UTC)
    assert format_date(late_evening_in_new_york, "long", "America/New_York", "en") == (
        "January 6, 2027"
    )
    assert format_date(date(2027, 1, 6), "full", "UTC", "es") == "miércoles, 6 de enero de 2027"


def test_unknown_locales_fall_back_to_the_language_then_english() -> None:
    assert str(babel_locale("es-XX")) == "es"
    assert str(babel_locale("xx-YY")) == "en"
    assert str(babel_locale("es_MX")) == "es_MX"


def test_plurals_follow_each_languages_rules() -> None:
    assert ngettext("%(num)s question", "%(num)s questions", 1, "en") == "1 question"
    assert ngettext("%(num)s question", "%(num)s questions", 0, "en") == "0 questions"
    assert ngettext("%(num)s pregunta", "%(num)s preguntas", 1, "es") == "1 pregunta"
    assert ngettext("%(num)s pregunta", "%(num)s preguntas", 4, "es") == "4 preguntas"
    # CLDR: Spanish millions take "de" ("un millón de preguntas"), category "many".
    forms = {"one": "pregunta", "many": "de preguntas", "other": "preguntas"}
    assert plural(1_000_000, "es", forms) == "de preguntas"
    assert plural(3, "es", forms) == "preguntas"
    assert ngettext("%(num)s day", "%(num)s days", 1234, "en") == "1,234 days"


def _render(body: str, **variables: object) -> str:
    sandbox = PromptSandbox(SandboxLimits(), html=False)
    context = {"timezone": "Europe/Madrid", "locale": "es", **variables}
    return sandbox.render_bounded(sandbox.compile_template(body, "t"), context, "t")


def test_templates_reach_the_helpers_with_the_members_zone_and_locale() -> None:
    when = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    assert _render('{{ when|format_datetime("EEEE HH:mm") }}', when=when) == "lunes 10:00"
    assert _render("{{ format_time(when) }}", when=when) == "10:00"
    assert (
        _render("{{ format_datetime(when, 'EEEE HH:mm', zone='UTC', locale='en') }}", when=when)
        == "Monday 08:00"
    )
    assert _render("{{ plural(2, one='vez', other='veces') }}") == "veces"
    assert _render("{{ format_number(n) }}", n=12345.5) == "12.345,5"


def test_a_naive_datetime_is_refused_not_guessed() -> None:
    with pytest.raises(TemplateProblem, match="timezone-aware"):
        _render("{{ when|format_datetime }}", when=datetime(2027, 1, 6, 9, 0))


def test_an_unknown_zone_is_a_template_problem() -> None:
    with pytest.raises(TemplateProblem, match="format_datetime"):
        _render(
            "{{ when|format_datetime(zone='Mars/Olympus') }}",
            when=datetime(2027, 1, 6, tzinfo=UTC),
        )
