"""Signed, expiring tokens for answer links: they authorise one delivery's answer, nothing else.

``<payload>.<mac>``, both unpadded base64url: payload = purpose, subject id and expiry; mac =
the first 16 bytes of HMAC-SHA256 under the notifier's link key. The purpose is signed too, so a
token minted for one use cannot be replayed for another.

A token verifies only in the exact form it was issued in. Python's base64 decoder forgives a
lot (characters outside the alphabet, anything after padding, non-zero trailing bits), so a
token with ``"><script>…`` appended used to verify, and a page that printed the token printed
the script too. Each part is decoded and encoded again, and must come out as given.

The key rotates with an overlap: new links are signed with the current key; links signed with
the previous key keep verifying until they expire (links carry their own expiry).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime

MIN_KEY_BYTES = 16


class InvalidLink(ValueError):
    pass


class ExpiredLink(InvalidLink):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """The bytes ``text`` encodes, if ``text`` is their canonical unpadded base64url form."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidLink("malformed link") from error
    if _b64(data) != text:
        raise InvalidLink("malformed link")
    return data


class LinkSigner:
    """Signs with ``key``; verifies with ``key`` or any of ``previous_keys`` (a rotation's
    overlap)."""

    def __init__(self, key: bytes, previous_keys: Iterable[bytes] = ()) -> None:
        keys = (key, *previous_keys)
        if any(len(each) < MIN_KEY_BYTES for each in keys):
            raise ValueError("link signing key too short")
        self._keys = keys

    @staticmethod
    def _mac(key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()[:16]

    def sign(self, purpose: str, subject_id: str, expires_at: datetime) -> str:
        payload = f"{purpose}|{subject_id}|{int(expires_at.timestamp())}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(self._keys[0], payload))}"

    def verify(self, token: str, purpose: str, now: datetime) -> str:
        """The subject id the token was signed for; raises ``InvalidLink`` or ``ExpiredLink``."""
        payload_text, dot, mac_text = token.partition(".")
        if not dot:
            raise InvalidLink("malformed link")
        payload = _unb64(payload_text)
        mac = _unb64(mac_text)
        matches = False
        for key in self._keys:
            # Every key is tried: how long this takes says nothing about which key matched.
            matches |= hmac.compare_digest(mac, self._mac(key, payload))
        if not matches:
            raise InvalidLink("link signature does not match")
        try:
            signed_purpose, subject_id, expires = payload.decode().split("|")
            expires_at = datetime.fromtimestamp(int(expires), UTC)
        except (UnicodeDecodeError, ValueError, OverflowError, OSError) as error:
            raise InvalidLink("malformed link payload") from error
        if signed_purpose != purpose:
            raise InvalidLink("link was issued for something else")
        if now > expires_at:
            raise ExpiredLink("link has expired")
        return subject_id
