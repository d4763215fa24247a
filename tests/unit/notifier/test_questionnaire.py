"""The check-in items: instrument codes, wording in both languages, rotation, what each channel
asks (WHO-5 on the e-mail form only), parse rules."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.questionnaire import (
    ANCHOR,
    ITEMS,
    MODULES,
    WHO5_ITEMS,
    InvalidAnswer,
    Item,
    Option,
    Questionnaire,
    canonical_locale,
    locale_fallbacks,
    questionnaire_for,
    questionnaire_key,
)
from shared.contracts import Channel, RitualKind
from shared.weeks import iso_week_of, monday_of, period_of, weeks_of

WHO5 = ("WHO-5", (5, 4, 3, 2, 1, 0), "All of the time", "At no time", True)
WHO5_KEYS = ("who5_cheerful", "who5_calm", "who5_active", "who5_rested", "who5_interest")

# key -> (instrument, codes, first English label, last English label, validated)
EXPECTED_ITEMS = {
    "ons_loneliness": ("ONS-loneliness", (1, 2, 3, 4, 5), "Often/always", "Never", True),
    "ucla_companionship": ("UCLA-3", (1, 2, 3), "Hardly ever", "Often", True),
    "ucla_left_out": ("UCLA-3", (1, 2, 3), "Hardly ever", "Often", True),
    "ucla_isolated": ("UCLA-3", (1, 2, 3), "Hardly ever", "Often", True),
    "brfss_emotional_support": (
        "BRFSS-emotional-support",
        (1, 2, 3, 4, 5),
        "Always",
        "Never",
        True,
    ),
    "mos_informational": ("MOS-SSS", (1, 2, 3, 4, 5), "None of the time", "All of the time", True),
    "osss_close_people": ("OSSS-3", (1, 2, 3, 4), "None", "6 or more", True),
    "osss_concern": ("OSSS-3", (1, 2, 3, 4, 5), "None", "A lot", True),
    "osss_neighbours": ("OSSS-3", (1, 2, 3, 4, 5), "Very difficult", "Very easy", True),
    "statcan_belonging": ("StatCan-belonging", (1, 2, 3, 4), "Very strong", "Very weak", True),
    "regular_contact": ("LSNS-adapted", (0, 1, 2, 3, 4, 5), "Less than monthly", "Daily", False),
    **dict.fromkeys(WHO5_KEYS, WHO5),
}


@pytest.mark.parametrize("key", sorted(EXPECTED_ITEMS))
def test_every_item_has_its_instruments_codes_and_labels(key: str) -> None:
    instrument, codes, first, last, validated = EXPECTED_ITEMS[key]
    item = ITEMS[key]
    assert item.key == key
    assert item.instrument == instrument
    assert item.values == codes
    assert item.options[0].label("en") == first
    assert item.options[-1].label("en") == last
    assert item.validated is validated


def test_the_item_set_is_exactly_the_reference_set_and_cannot_be_changed() -> None:
    assert set(ITEMS) == set(EXPECTED_ITEMS)
    with pytest.raises(TypeError):
        ITEMS["extra"] = ANCHOR  # type: ignore[index]


def test_osss3_scores_sum_from_3_to_14_and_ucla3_from_3_to_9() -> None:
    osss = [ITEMS[key] for key in ("osss_close_people", "osss_concern", "osss_neighbours")]
    assert sum(min(item.values) for item in osss) == 3
    assert sum(max(item.values) for item in osss) == 14
    ucla = MODULES[0]
    assert sum(min(item.values) for item in ucla) == 3
    assert sum(max(item.values) for item in ucla) == 9


def test_who5_raw_scores_sum_from_0_to_25() -> None:
    assert tuple(item.key for item in WHO5_ITEMS) == WHO5_KEYS
    assert sum(min(ITEMS[key].values) for key in WHO5_KEYS) == 0
    assert sum(max(ITEMS[key].values) for key in WHO5_KEYS) == 25


@pytest.mark.parametrize("key", sorted(EXPECTED_ITEMS))
def test_spanish_wording_exists_for_every_prompt_and_option(key: str) -> None:
    item = ITEMS[key]
    assert "es" in item.prompts
    assert item.prompt("es") != item.prompt("en")
    # Questions are asked as questions in both languages; WHO-5's statements as statements.
    assert item.prompt("es").startswith("¿") == item.prompt("en").endswith("?")
    for option in item.options:
        assert option.labels.get("es"), f"{key} option {option.value} has no Spanish label"
        assert option.labels.get("en")


def test_wording_falls_back_from_region_to_language_to_english() -> None:
    assert ANCHOR.prompt("es-MX") == ANCHOR.prompt("es")
    assert ANCHOR.prompt("es_mx") == ANCHOR.prompt("es")
    assert ANCHOR.prompt("fr-CA") == ANCHOR.prompt("en") == "How often do you feel lonely?"
    assert ANCHOR.options[0].label("ES") == "A menudo/siempre"
    regional = Option(1, MappingProxyType({"en": "Often", "es": "A menudo", "es-MX": "Seguido"}))
    assert regional.label("es-MX") == "Seguido"
    assert regional.label("es-AR") == "A menudo"


def test_locales_have_one_spelling_and_one_fallback_order() -> None:
    assert canonical_locale("es_mx") == "es-MX"
    assert canonical_locale("ZH-hant-tw") == "zh-Hant-TW"
    assert locale_fallbacks("es-MX") == ("es-MX", "es", "en")
    assert locale_fallbacks("en-GB") == ("en-GB", "en")
    assert locale_fallbacks("en") == ("en",)
    assert locale_fallbacks("") == ("en",)


def _days(year: int) -> list[date]:
    start = date(year, 1, 1)
    return [start + timedelta(days=n) for n in range((date(year + 1, 1, 1) - start).days)]


def test_rotation_over_a_year_asks_the_anchor_and_one_module_by_iso_week() -> None:
    weeks: dict[tuple[int, int], str] = {}
    for day in _days(2027):
        questionnaire = questionnaire_for("check_in", day, Channel.sms)
        by_email = questionnaire_for("check_in", day, Channel.email)
        assert questionnaire is not None
        assert by_email is not None
        iso = day.isocalendar()
        assert questionnaire.items[0] is ANCHOR
        assert by_email.items == (ANCHOR, *MODULES[iso.week % 4])
        # By SMS: the module without its form-only items, at most three, in the same order.
        assert questionnaire.items[1:] == tuple(
            item for item in MODULES[iso.week % 4] if not item.form_only
        )
        assert 2 <= len(questionnaire.items) <= 4
        assert questionnaire.key == by_email.key == f"weekly_w{iso.week % 4}"
        assert questionnaire_key("check_in", day) == questionnaire.key
        # Every day of one ISO week asks the same module.
        assert weeks.setdefault((iso.year, iso.week), questionnaire.key) == questionnaire.key
    per_module = Counter(weeks.values())
    assert set(per_module) == {"weekly_w0", "weekly_w1", "weekly_w2", "weekly_w3"}
    assert max(per_module.values()) - min(per_module.values()) <= 1
    # Consecutive weeks never ask the same module within an ISO year (1-3 January 2027 are
    # ISO week 53 of 2026: see the next test).
    keys = [weeks[week] for week in sorted(weeks) if week[0] == 2027]
    assert len(keys) == 52
    assert all(a != b for a, b in itertools.pairwise(keys))


def _asked(channel: Channel, days: list[date]) -> list[str]:
    return [
        item.key
        for day in days
        for item in questionnaire_for("check_in", day, channel).items  # type: ignore[union-attr]
    ]


def test_every_item_comes_round_within_four_weeks() -> None:
    monday = date(2027, 3, 1)
    four_weeks = [monday + timedelta(weeks=n) for n in range(4)]
    assert set(_asked(Channel.email, four_weeks)) == set(ITEMS)
    assert set(_asked(Channel.sms, four_weeks)) == set(ITEMS) - set(WHO5_KEYS)


def test_who5_is_asked_in_week_3_on_the_email_form_only() -> None:
    for day in _days(2027):
        by_sms = questionnaire_for("check_in", day, Channel.sms)
        by_email = questionnaire_for("check_in", day, Channel.email)
        assert by_sms is not None
        assert by_email is not None
        assert not set(WHO5_KEYS) & {item.key for item in by_sms.items}
        asked = [item.key for item in by_email.items if item.key in WHO5_KEYS]
        # Week 3 of the rotation (with belonging and regular contact), all five, in order.
        assert asked == (list(WHO5_KEYS) if day.isocalendar().week % 4 == 3 else [])
    week_3 = questionnaire_for("check_in", date(2027, 1, 18), Channel.email)
    assert week_3 is not None
    assert [item.key for item in week_3.items] == [
        "ons_loneliness",
        "statcan_belonging",
        "regular_contact",
        *WHO5_KEYS,
    ]
    assert all(item.form_only == (item.key in WHO5_KEYS) for item in ITEMS.values())


def test_no_text_message_asks_more_than_four_questions() -> None:
    for module in MODULES:
        assert len([item for item in module if item.asked_by(Channel.sms)]) <= 3


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_each_four_week_period_has_one_who5_week_and_a_week_53_none(year: int) -> None:
    # A person's respondent key lasts one week: one WHO-5 week per period means one WHO-5
    # answer per person per period, as the indicator counts them.
    periods: dict[str, list[str]] = {}
    for monday in {monday_of(iso_week_of(day)) for day in _days(year)}:
        if monday.isocalendar().year != year:
            continue
        by_email = questionnaire_for("check_in", monday, Channel.email)
        assert by_email is not None
        if by_email.item("who5_cheerful") is not None:
            periods.setdefault(period_of(iso_week_of(monday)), []).append(iso_week_of(monday))
    every_period = [f"{year}-P{n:02d}" for n in range(1, 15) if weeks_of(f"{year}-P{n:02d}")]
    full = [period for period in every_period if len(weeks_of(period)) == 4]
    assert len(full) == 13
    assert {period: len(weeks) for period, weeks in periods.items()} == dict.fromkeys(full, 1)


def test_a_year_with_week_53_repeats_module_1_in_the_next_week() -> None:
    # 2026 has an ISO week 53 (it ends on a Thursday); documented, not hidden.
    week_53 = questionnaire_for("check_in", date(2026, 12, 31), Channel.email)
    week_1 = questionnaire_for("check_in", date(2027, 1, 4), Channel.email)
    assert week_53 is not None
    assert week_1 is not None
    assert date(2026, 12, 31).isocalendar().week == 53
    assert week_53.key == week_1.key == "weekly_w1"


def test_reminders_ask_nothing_and_a_nudge_asks_what_its_prompt_asked() -> None:
    day = date(2027, 1, 6)
    for channel in Channel:
        for kind in RitualKind:
            if kind is not RitualKind.check_in:
                assert questionnaire_for(kind.value, day, channel) is None
                assert questionnaire_key(kind.value, day) is None
        assert questionnaire_for("sms_help", day, channel) is None
        assert questionnaire_for("check_in_nudge", day, channel) == questionnaire_for(
            "check_in", day, channel
        )


def _ucla_week() -> Questionnaire:
    questionnaire = questionnaire_for("check_in", date(2027, 1, 27), Channel.sms)  # ISO week 4
    assert questionnaire is not None
    assert len(questionnaire.items) == 4
    return questionnaire


def test_as_many_numbers_as_questions_answer_them_in_order() -> None:
    answers = _ucla_week().parse_numbers((4, 2, 1, 3))
    assert answers == {
        "ons_loneliness": 4,
        "ucla_companionship": 2,
        "ucla_left_out": 1,
        "ucla_isolated": 3,
    }


def test_a_single_number_answers_the_anchor_only() -> None:
    assert _ucla_week().parse_numbers((5,)) == {"ons_loneliness": 5}
    alone = Questionnaire("one", (ITEMS["statcan_belonging"],))
    assert alone.parse_numbers((2,)) == {"statcan_belonging": 2}


@pytest.mark.parametrize("numbers", [(4, 2), (4, 2, 1), (4, 2, 1, 3, 2)])
def test_any_other_count_is_refused_rather_than_guessed(numbers: tuple[int, ...]) -> None:
    with pytest.raises(InvalidAnswer, match=f"expected 4 numbers.*got {len(numbers)}"):
        _ucla_week().parse_numbers(numbers)


def test_no_number_is_refused() -> None:
    with pytest.raises(InvalidAnswer, match="no answer"):
        _ucla_week().parse_numbers(())


def test_a_code_outside_the_items_scale_is_refused_without_repeating_it() -> None:
    with pytest.raises(InvalidAnswer) as caught:
        _ucla_week().parse_numbers((4, 777, 1, 3))
    message = str(caught.value)
    assert message == "answer 2 must be one of 1, 2, 3"
    assert "777" not in message
    with pytest.raises(InvalidAnswer, match="answer 1 must be one of 1, 2, 3, 4, 5"):
        _ucla_week().parse_numbers((0,))


def test_zero_is_a_code_where_the_instrument_has_it() -> None:
    contact_week = questionnaire_for("check_in", date(2027, 1, 20), Channel.sms)  # ISO week 3
    assert contact_week is not None
    assert contact_week.parse_numbers((1, 2, 0)) == {
        "ons_loneliness": 1,
        "statcan_belonging": 2,
        "regular_contact": 0,
    }


@given(st.lists(st.integers(min_value=-5, max_value=1000), max_size=8))
def test_parse_numbers_either_answers_validly_or_says_why(numbers: list[int]) -> None:
    questionnaire = _ucla_week()
    try:
        answers = questionnaire.parse_numbers(tuple(numbers))
    except InvalidAnswer as error:
        message = str(error)
    else:
        message = ""
    # A refusal never quotes what was sent (codes are single digits; counts are small).
    assert all(str(n) not in message for n in numbers if n > 9)
    if message:
        return
    assert answers
    for key, value in answers.items():
        item = questionnaire.item(key)
        assert item is not None
        assert item.option(value) is not None


def test_the_form_may_skip_questions_but_not_all_of_them() -> None:
    questionnaire = _ucla_week()
    assert questionnaire.parse_form({"ucla_left_out": "2", "ons_loneliness": " "}) == {
        "ucla_left_out": 2
    }
    assert questionnaire.parse_form({"ons_loneliness": "5", "ucla_isolated": "1"}) == {
        "ons_loneliness": 5,
        "ucla_isolated": 1,
    }
    with pytest.raises(InvalidAnswer, match="at least one"):
        questionnaire.parse_form({})
    with pytest.raises(InvalidAnswer, match="at least one"):
        questionnaire.parse_form({"ons_loneliness": ""})


def test_the_form_refuses_unknown_fields_without_echoing_them() -> None:
    with pytest.raises(InvalidAnswer) as caught:
        _ucla_week().parse_form({"ons_loneliness": "2", "ana@example.org": "1"})
    assert "ana@example.org" not in str(caught.value)
    # An item of another week is not a question of this check-in either.
    with pytest.raises(InvalidAnswer):
        _ucla_week().parse_form({"statcan_belonging": "1"})


@pytest.mark.parametrize("value", ["6", "0", "two", "2.5", "-1"])
def test_the_form_refuses_values_outside_the_scale(value: str) -> None:
    with pytest.raises(InvalidAnswer, match="ons_loneliness must be one of 1, 2, 3, 4, 5"):
        _ucla_week().parse_form({"ons_loneliness": value})


def test_item_lookup_by_code() -> None:
    assert isinstance(ANCHOR, Item)
    assert ANCHOR.option(1) is ANCHOR.options[0]
    assert ANCHOR.option(9) is None


def _who5_week(channel: Channel) -> Questionnaire:
    questionnaire = questionnaire_for("check_in", date(2027, 1, 20), channel)  # ISO week 3
    assert questionnaire is not None
    return questionnaire


def test_numbers_never_answer_form_only_items_even_on_the_email_questionnaire() -> None:
    by_email = _who5_week(Channel.email)
    assert len(by_email.items) == 8
    # Three numbers answer the three questions an SMS asks, whichever questionnaire it is.
    assert by_email.parse_numbers((1, 2, 0)) == _who5_week(Channel.sms).parse_numbers((1, 2, 0))
    with pytest.raises(InvalidAnswer, match=r"expected 3 numbers.*got 8"):
        by_email.parse_numbers((1, 2, 0, 5, 5, 5, 5, 5))


def test_the_email_form_answers_who5_and_the_sms_questionnaire_refuses_it() -> None:
    form = {"ons_loneliness": "3", **dict.fromkeys(WHO5_KEYS, "2")}
    assert _who5_week(Channel.email).parse_form(form) == {
        "ons_loneliness": 3,
        **dict.fromkeys(WHO5_KEYS, 2),
    }
    assert _who5_week(Channel.email).parse_form({"who5_calm": "0"}) == {"who5_calm": 0}
    with pytest.raises(InvalidAnswer, match="who5_calm must be one of 5, 4, 3, 2, 1, 0"):
        _who5_week(Channel.email).parse_form({"who5_calm": "6"})
    with pytest.raises(InvalidAnswer, match="not a question of this check-in"):
        _who5_week(Channel.sms).parse_form(form)


def test_who5_instructions_come_once_before_its_first_statement_in_both_languages() -> None:
    by_email = _who5_week(Channel.email)
    for locale, words in (("en", "over the last two weeks"), ("es", "últimas dos semanas")):
        intros = [by_email.intro_before(n, locale) for n in range(len(by_email.items))]
        first = by_email.items.index(ITEMS["who5_cheerful"])
        assert [n for n, intro in enumerate(intros) if intro] == [first]
        assert words in (intros[first] or "")
    assert ITEMS["who5_calm"].intro_text("es-MX") == ITEMS["who5_calm"].intro_text("es")
    assert ANCHOR.intro_text("en") is None
