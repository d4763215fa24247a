from __future__ import annotations

import re

from pydantic import TypeAdapter

from services.notifier.domain.pseudonyms import (
    legacy_respondent_key,
    member_hash,
    new_member_id,
    new_pseudonym_seed,
    respondent_key,
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
