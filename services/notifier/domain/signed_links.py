"""Signed, expiring tokens for answer links: they authorise one delivery's answer, nothing else.

``<payload>.<mac>``, both base64url: payload = purpose, subject id and expiry; mac = the first
16 bytes of HMAC-SHA256 under the notifier's link key. The purpose is signed too, so a token
minted for one use cannot be replayed for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime


class InvalidLink(ValueError):
    pass


class ExpiredLink(InvalidLink):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("link signing key too short")
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def sign(self, purpose: str, subject_id: str, expires_at: datetime) -> str:
        payload = f"{purpose}|{subject_id}|{int(expires_at.timestamp())}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, purpose: str, now: datetime) -> str:
        """The subject id the token was signed for; raises ``InvalidLink`` or ``ExpiredLink``."""
        try:
            payload_text, mac_text = token.split(".", 1)
            payload = _unb64(payload_text)
            mac = _unb64(mac_text)
        except ValueError as error:
            raise InvalidLink("malformed link") from error
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidLink("link signature does not match")
        try:
            signed_purpose, subject_id, expires = payload.decode().split("|")
            expires_at = datetime.fromtimestamp(int(expires), UTC)
        except (UnicodeDecodeError, ValueError) as error:
            raise InvalidLink("malformed link payload") from error
        if signed_purpose != purpose:
            raise InvalidLink("link was issued for something else")
        if now > expires_at:
            raise ExpiredLink("link has expired")
        return subject_id
