"""Ids the notifier mints (members) and the pseudonyms it derives for insights.

A member id is random and is what every other service sees. What reaches insights is a
*respondent key* per member and ISO week, HMAC-SHA256 under a random seed that belongs to that
member alone and never leaves the notifier's ``contacts`` row. So:

* insights can count distinct people and score multi-item answers within a week, but cannot
  follow anyone across weeks (no participation pattern to match against the identity side);
* nobody without the seed can derive or test a key, not even from a member id;
* erasing the member deletes the seed: whatever copy of their keys survives somewhere (a stream,
  a backup) can no longer be tied to them by anyone (crypto-shredding).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_member_id() -> str:
    """A random pseudonymous member id: carries nothing about the person."""
    return "mbr_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))


def new_pseudonym_seed() -> str:
    """The member's own random key for their respondent keys (32 bytes, hex)."""
    return secrets.token_hex(32)


def respondent_key(seed: str, scope: str) -> str:
    """The member's pseudonym for one ISO week (``2027-W01``) or one 4-week period
    (``2027-P01``): stable within it, unlinkable across weeks, periods, and between the two."""
    digest = hmac.new(bytes.fromhex(seed), f"scope|{scope}".encode(), hashlib.sha256)
    return f"rk_{digest.hexdigest()[:32]}"


def legacy_respondent_key(member_id: str, secret: bytes) -> str:
    """The key of releases before per-week keys (one per member, under the service secret).

    Only erasure uses it: facts insights may still hold under it are tombstoned too.
    """
    digest = hmac.new(secret, member_id.encode(), hashlib.sha256).hexdigest()
    return f"rk_{digest[:32]}"


def member_hash(member_id: str, secret: bytes) -> str:
    """How the notifier remembers an erased member without keeping the id."""
    return hmac.new(secret, f"erased|{member_id}".encode(), hashlib.sha256).hexdigest()
