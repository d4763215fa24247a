from __future__ import annotations

import re
from datetime import date

from pydantic import TypeAdapter

from services.notifier.domain.pseudonyms import (
    iso_week_of,
    legacy_respondent_key,
    member_hash,
    monday_of,
    new_member_id,
    new_pseudonym_seed,
    respondent_key,
    weeks_between,
)
from shared.contracts.base import RespondentKey


def test_member_ids_are_random_and_fit_the_contract() -> None:
    ids = {new_member_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"mbr_[A-Za-z0-9]{20}", member_id) for member_id in ids)


def test_respondent_keys_are_per_member_and_per_week() -> None:
    seed, other = new_pseudonym_seed(), new_pseudonym_seed()
    assert seed != other
    assert respondent_key(seed, "2027-W01") == respondent_key(seed, "2027-W01")
    assert respondent_key(seed, "2027-W01") != respondent_key(seed, "2027-W02")
    assert respondent_key(seed, "2027-W01") != respondent_key(other, "2027-W01")
    TypeAdapter(RespondentKey).validate_python(respondent_key(seed, "2027-W01"))


def test_legacy_keys_and_erased_member_hashes_need_the_secret() -> None:
    assert legacy_respondent_key("mbr_a", b"s1" * 16) != legacy_respondent_key("mbr_a", b"s2" * 16)
    assert "mbr_a" not in legacy_respondent_key("mbr_a", b"s1" * 16)
    assert member_hash("mbr_a", b"s1" * 16) != member_hash("mbr_a", b"s2" * 16)
    assert member_hash("mbr_a", b"s1" * 16) != member_hash("mbr_b", b"s1" * 16)


def test_iso_weeks() -> None:
    assert iso_week_of(date(2027, 1, 4)) == "2027-W01"
    assert iso_week_of(date(2027, 1, 3)) == "2026-W53"
    assert monday_of("2026-W53") == date(2026, 12, 28)
    assert weeks_between(date(2026, 12, 30), date(2027, 1, 11)) == [
        "2026-W53",
        "2027-W01",
        "2027-W02",
    ]
    assert weeks_between(date(2027, 1, 5), date(2027, 1, 4)) == []
