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


def _token() -> str:
    return SIGNER.sign("unsubscribe", "m_123", NOW + timedelta(days=1))


@pytest.mark.parametrize(
    "suffix",
    [
        '=="><script>alert(1)</script>',  # the tester's payload, after padding
        "==",
        "=",
        "=x",
        ".",
        "\n",
        " ",
        "!",
    ],
)
def test_anything_appended_to_a_token_is_refused(suffix: str) -> None:
    with pytest.raises(InvalidLink):
        SIGNER.verify(_token() + suffix, "unsubscribe", NOW)


@pytest.mark.parametrize("part", [0, 1])
def test_characters_outside_the_alphabet_inside_a_token_are_refused(part: int) -> None:
    pieces = _token().split(".")
    pieces[part] = pieces[part][:4] + '"><' + pieces[part][4:]
    with pytest.raises(InvalidLink):
        SIGNER.verify(".".join(pieces), "unsubscribe", NOW)


def test_non_canonical_trailing_bits_are_refused() -> None:
    payload, mac = _token().split(".")
    # 16 MAC bytes are 22 characters; the last one carries 2 bits and 4 unused zero bits. A
    # lenient decoder ignores the unused bits, so 15 other characters decode the same.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(mac[-1])
    assert index % 16 == 0
    for variant in alphabet[index + 1 : index + 16]:
        with pytest.raises(InvalidLink):
            SIGNER.verify(f"{payload}.{mac[:-1]}{variant}", "unsubscribe", NOW)


def test_the_standard_alphabet_is_not_accepted_for_the_url_safe_one() -> None:
    for subject in range(200):  # find a token whose MAC has a '-' or '_' in it
        token = SIGNER.sign("unsubscribe", f"m_{subject}", NOW + timedelta(days=1))
        if "-" in token or "_" in token:
            break
    else:
        pytest.fail("no token with - or _ in 200 tries")
    standard = token.replace("-", "+").replace("_", "/")
    with pytest.raises(InvalidLink):
        SIGNER.verify(standard, "unsubscribe", NOW)


def test_a_token_verifies_in_its_issued_form() -> None:
    assert SIGNER.verify(_token(), "unsubscribe", NOW) == "m_123"


OLD_KEY = b"previous-key-0123456789abcdef012"
NEW_KEY = b"current-key-0123456789abcdef0123"


def test_links_signed_with_the_previous_key_verify_until_they_expire() -> None:
    old_link = LinkSigner(OLD_KEY).sign("answer", "delivery-1", NOW + timedelta(days=7))
    rotated = LinkSigner(NEW_KEY, previous_keys=[OLD_KEY])
    assert rotated.verify(old_link, "answer", NOW + timedelta(days=6)) == "delivery-1"
    with pytest.raises(ExpiredLink):
        rotated.verify(old_link, "answer", NOW + timedelta(days=7, seconds=1))


def test_new_links_are_signed_with_the_current_key() -> None:
    rotated = LinkSigner(NEW_KEY, previous_keys=[OLD_KEY])
    link = rotated.sign("answer", "delivery-1", NOW + timedelta(days=1))
    assert LinkSigner(NEW_KEY).verify(link, "answer", NOW) == "delivery-1"
    with pytest.raises(InvalidLink, match="signature"):
        LinkSigner(OLD_KEY).verify(link, "answer", NOW)


def test_once_the_previous_key_is_dropped_its_links_stop_verifying() -> None:
    old_link = LinkSigner(OLD_KEY).sign("answer", "delivery-1", NOW + timedelta(days=7))
    with pytest.raises(InvalidLink, match="signature"):
        LinkSigner(NEW_KEY).verify(old_link, "answer", NOW)


def test_a_short_previous_key_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        LinkSigner(NEW_KEY, previous_keys=[b"short"])
