from __future__ import annotations

import re

from services.notifier.domain.pseudonyms import new_member_id, respondent_key


def test_member_ids_are_random_and_fit_the_contract() -> None:
    ids = {new_member_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"mbr_[A-Za-z0-9]{20}", member_id) for member_id in ids)


def test_respondent_keys_are_stable_per_member_and_depend_on_the_secret() -> None:
    assert respondent_key("mbr_a", b"s1" * 16) == respondent_key("mbr_a", b"s1" * 16)
    assert respondent_key("mbr_a", b"s1" * 16) != respondent_key("mbr_b", b"s1" * 16)
    assert respondent_key("mbr_a", b"s1" * 16) != respondent_key("mbr_a", b"s2" * 16)
    assert "mbr_a" not in respondent_key("mbr_a", b"s1" * 16)
