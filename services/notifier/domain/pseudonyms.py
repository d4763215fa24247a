"""Ids the notifier mints (members) and derives (respondent keys for insights)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_member_id() -> str:
    """A random pseudonymous member id: carries nothing about the person."""
    return "mbr_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))


def respondent_key(member_id: str, secret: bytes) -> str:
    """A keyed hash of the member id: stable per person, unlinkable without the secret."""
    digest = hmac.new(secret, member_id.encode(), hashlib.sha256).hexdigest()
    return f"rk_{digest[:32]}"
