"""The generic gateway's webhook signature: HMAC-SHA256 over a timestamp and the raw body.

Headers: ``X-Gateway-Timestamp: <Unix seconds>`` and ``X-Gateway-Signature: sha256=<hex>``,
where hex is HMAC-SHA256(secret, ``<timestamp>.`` + raw body bytes), lower-case. Signing the
timestamp bounds replays: a call whose timestamp is further than the tolerance from our clock,
either way (clock skew), is refused even when its signature is right.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

TIMESTAMP_HEADER = "x-gateway-timestamp"
SIGNATURE_HEADER = "x-gateway-signature"
SCHEME = "sha256="
DEFAULT_TOLERANCE = timedelta(minutes=5)


def gateway_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Gateway-Signature value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SCHEME + digest


def is_valid_signature(
    secret: bytes, timestamp: str | None, body: bytes, signature: str | None
) -> bool:
    """Whether ``signature`` is ours for this body and timestamp (constant-time; a missing or
    malformed timestamp or signature is never valid). Says nothing about the timestamp's age."""
    if not secret or not signature or not timestamp or not _is_unix_seconds(timestamp):
        return False
    expected = gateway_signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def is_fresh(timestamp: str, now: datetime, tolerance: timedelta = DEFAULT_TOLERANCE) -> bool:
    """Whether ``timestamp`` (Unix seconds, already checked by ``is_valid_signature``) is
    within ``tolerance`` of ``now``, before or after."""
    return abs(now.timestamp() - int(timestamp)) <= tolerance.total_seconds()


def _is_unix_seconds(value: str) -> bool:
    # ASCII digits only (str.isdigit accepts other scripts' digits), and a sane length.
    return value.isascii() and value.isdigit() and len(value) <= 12
