from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain.signed_links import ExpiredLink, InvalidLink, LinkSigner

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SIGNER = LinkSigner(b"0123456789abcdef0123456789abcdef")


def test_a_token_verifies_for_its_purpose_until_it_expires() -> None:
    token = SIGNER.sign("answer", "delivery-1", NOW + timedelta(days=1))
    assert SIGNER.verify(token, "answer", NOW) == "delivery-1"
    with pytest.raises(ExpiredLink):
        SIGNER.verify(token, "answer", NOW + timedelta(days=1, seconds=1))


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    token = SIGNER.sign("answer", "delivery-1", NOW + timedelta(days=1))
    with pytest.raises(InvalidLink, match="something else"):
        SIGNER.verify(token, "unsubscribe", NOW)


@pytest.mark.parametrize("tamper", ["payload", "mac", "garbage", "other-key"])
def test_tampered_tokens_are_refused(tamper: str) -> None:
    token = SIGNER.sign("answer", "delivery-1", NOW + timedelta(days=1))
    payload, mac = token.split(".")
    forged = {
        "payload": SIGNER.sign("answer", "delivery-2", NOW).split(".")[0] + "." + mac,
        "mac": payload + "." + mac[::-1],
        "garbage": "not-a-token",
        "other-key": LinkSigner(b"x" * 32).sign("answer", "delivery-1", NOW + timedelta(days=1)),
    }[tamper]
    with pytest.raises(InvalidLink):
        SIGNER.verify(forged, "answer", NOW)
