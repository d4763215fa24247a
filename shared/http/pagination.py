"""Keyset pagination for any service's list endpoint: an opaque cursor and the ``Link`` header.

A page ends at some row; the cursor names that row's sort key (say its ``created_at`` and
``id``), so the next page starts strictly after it whatever was inserted meanwhile: no row is
listed twice or skipped, as ``OFFSET`` would do while rows arrive. The cursor is URL-safe
base64 of a small JSON document holding that key and a digest of the filters it was issued for:
a cursor replayed with other filters is refused rather than silently giving an odd page.

A cursor is opaque, not secret: it carries a position, never a right. Decoding checks its shape
and raises :class:`InvalidCursor` with a sentence a client can act on (which
:func:`cursor_problem` turns into a 400); what each key part means (an instant, an id) is the
caller's to check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from fastapi import HTTPException, status
from starlette.datastructures import URL

CURSOR_PARAMETER = "cursor"
MAX_CURSOR_LENGTH = 512  # a key of a few short values: anything longer was not issued by us
_VERSION = 1
_URLSAFE_BASE64 = re.compile(r"^[A-Za-z0-9_-]+$")

KeyPart = str | int


class InvalidCursor(ValueError):
    """The cursor was not issued by this endpoint for these filters (or was altered)."""


def _filters_digest(filters: Mapping[str, str | None]) -> str:
    # Only the filters that were given; sorted, so the order of query parameters is irrelevant.
    given = {name: value for name, value in filters.items() if value is not None}
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(after: Sequence[KeyPart], filters: Mapping[str, str | None]) -> str:
    """The cursor of the page that starts after the row whose sort key is ``after``."""
    document = {"v": _VERSION, "after": list(after), "filters": _filters_digest(filters)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, filters: Mapping[str, str | None], key_length: int) -> list[KeyPart]:
    """The sort key a cursor holds, after checking it is one of ours, for these ``filters``."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _URLSAFE_BASE64.match(cursor):
        raise InvalidCursor("the cursor is malformed: pass next_cursor exactly as it was given")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor(
            "the cursor is malformed: pass next_cursor exactly as it was given"
        ) from None
    if (
        not isinstance(document, dict)
        or set(document) != {"v", "after", "filters"}
        or document["v"] != _VERSION
        or not isinstance(document["after"], list)
        or len(document["after"]) != key_length
        or not all(
            isinstance(part, str | int) and not isinstance(part, bool) for part in document["after"]
        )
    ):
        raise InvalidCursor("the cursor was not issued by this endpoint (or was altered)")
    if document["filters"] != _filters_digest(filters):
        raise InvalidCursor(
            "the cursor belongs to a query with other filters: repeat that query's filters, "
            "or start again without a cursor"
        )
    return list(document["after"])


def cursor_problem(error: InvalidCursor) -> HTTPException:
    """A 400 (as application/problem+json, by the shared handlers) that says what is wrong."""
    return HTTPException(status.HTTP_400_BAD_REQUEST, f"{CURSOR_PARAMETER}: {error}")


def next_page_link(url: URL, cursor: str) -> str:
    """A ``Link`` header value pointing at the next page: this request's path and query, with
    ``cursor`` set. Relative (RFC 8288 resolves it against the request), so it stays right
    behind a proxy that rewrites the host."""
    following = url.include_query_params(**{CURSOR_PARAMETER: cursor})
    return f'<{following.path}?{following.query}>; rel="next"'
