"""The indicator table and the notifier's questionnaire, held together: every item key and
answer code insights counts is one the notifier asks, with those codes, in a way that can be
counted (a score's items in one week, since a respondent key lasts a week; cut-offs inside the
score's range), and an indicator built on items only the e-mail form asks says so."""

from __future__ import annotations

import pytest

from services.insights.domain.indicators import (
    ANCHOR_ITEM,
    INDICATORS,
    Indicator,
    ItemShare,
    Measure,
    Participation,
    PeriodAnchorShare,
    ScoreShare,
    Signposted,
)
from services.notifier.domain.questionnaire import ANCHOR, ITEMS, MODULES, Item


def _items(measure: Measure) -> tuple[str, ...]:
    if isinstance(measure, ItemShare):
        return (measure.item,)
    if isinstance(measure, ScoreShare):
        return measure.items
    if isinstance(measure, PeriodAnchorShare):
        return (ANCHOR_ITEM,)
    assert isinstance(measure, Participation | Signposted)
    return ()


def _item(key: str) -> Item:
    item = ITEMS.get(key)
    assert item is not None, f"{key} is not an item of the notifier's questionnaire"
    return item


@pytest.mark.parametrize("indicator", INDICATORS, ids=lambda i: i.code)
def test_every_counted_item_and_code_is_asked_with_those_codes(indicator: Indicator) -> None:
    for measure in indicator.measures.values():
        for key in _items(measure):
            _item(key)
        if isinstance(measure, ItemShare):
            codes = set(_item(measure.item).values)
            # Codes the item has, and not all of them (or the share would always be 100%).
            assert measure.codes
            assert measure.codes < codes
        if isinstance(measure, PeriodAnchorShare):
            assert measure.codes
            assert measure.codes < set(ANCHOR.values)


def test_the_anchor_is_the_same_item_on_both_sides() -> None:
    assert ANCHOR.key == ANCHOR_ITEM


@pytest.mark.parametrize(
    "indicator",
    [i for i in INDICATORS if any(isinstance(m, ScoreShare) for m in i.measures.values())],
    ids=lambda i: i.code,
)
def test_a_score_can_be_completed_in_one_week_and_its_cut_off_can_go_either_way(
    indicator: Indicator,
) -> None:
    for measure in indicator.measures.values():
        if not isinstance(measure, ScoreShare):
            continue
        items = [_item(key) for key in measure.items]
        assert len(set(measure.items)) == len(items)
        # Respondent keys last one ISO week: a score is only complete if one week asks it all.
        weeks = [{item.key for item in module} for module in MODULES]
        assert any(set(measure.items) <= week for week in weeks), indicator.code
        lowest = sum(min(item.values) for item in items)
        highest = sum(max(item.values) for item in items)
        assert measure.at_least is not None or measure.at_most is not None
        if measure.at_most is not None:
            assert lowest <= measure.at_most < highest
        if measure.at_least is not None:
            assert lowest < measure.at_least <= highest


@pytest.mark.parametrize("indicator", INDICATORS, ids=lambda i: i.code)
def test_an_indicator_of_items_asked_on_the_email_form_only_says_so(indicator: Indicator) -> None:
    keys = {key for measure in indicator.measures.values() for key in _items(measure)}
    form_only = {key for key in keys if _item(key).form_only}
    assert form_only in (set(), keys)  # all or none: a mixed score would mix two populations
    assert ("e-mail" in indicator.note) == bool(form_only)


def test_wellbeing_is_scored_over_the_five_who5_items_of_0_to_5() -> None:
    (wellbeing,) = [i for i in INDICATORS if i.number == 8]
    (measure,) = wellbeing.measures.values()
    assert isinstance(measure, ScoreShare)
    assert {_item(key).instrument for key in measure.items} == {"WHO-5"}
    assert {key for key, item in ITEMS.items() if item.instrument == "WHO-5"} == set(measure.items)
    assert all(_item(key).values == (5, 4, 3, 2, 1, 0) for key in measure.items)
    # "50 or less on the 0-100 scale" (raw x 4) is exactly raw 12 or less.
    assert measure.at_most == max(raw for raw in range(26) if raw * 4 <= 50)
