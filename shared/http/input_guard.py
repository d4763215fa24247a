"""Refuse, at the door and with a 422 naming where, input no database or encoder of ours can hold.

- The NUL character, in the path, the query or a JSON or CSV body: PostgreSQL text cannot hold
  U+0000 (SQLite can), so it was a 500 on one database and stored on the other.
- A lone UTF-16 surrogate in a JSON string (``"\\ud800"``, or its UTF-8 bytes, which
  ``json.loads`` lets through): it is not text; encoding it for the database or the response
  raised (a 500).
- A number that is not finite: ``1e999`` (``json.loads`` reads inf), ``NaN``, ``Infinity``.
  JSON has no such values and our responses cannot carry them (a 500).
- JSON nested deeper than any of our documents: ``json.loads`` recursed into RecursionError.

Everything here runs at C speed on a body already capped by ``LimitRequestBodies``: the depth
is bounded with ``re.sub``, ``bytes.translate`` and ``bytes.replace`` passes, not a Python loop
over the bytes, and
the body is parsed (C) and walked (Python, over at most the capped size) only when a cheap
search finds something suspicious in it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.limits import media_type
from shared.http.problems import (
    MAX_LISTED_ERRORS,
    ProblemFieldError,
    send_problem,
    validation_problem,
)

NUL = "\x00"
MAX_JSON_DEPTH = 64  # our deepest document nests 4 levels
NUL_MESSAGE = "the NUL character (U+0000) is not allowed"
SURROGATE_MESSAGE = "a lone UTF-16 surrogate (U+D800 to U+DFFF) is not text: not allowed"
NOT_FINITE_MESSAGE = "numbers must be finite (no NaN, Infinity or beyond ±1.8e308)"
TOO_DEEP_MESSAGE = f"JSON nested more than {MAX_JSON_DEPTH} levels deep"

# Something that may need the exact check: a raw NUL (also every UTF-16/32 body), an escaped
# NUL or surrogate, a surrogate in UTF-8, the non-JSON constants, an exponent of three digits,
# or an integer part of 300 digits (beyond ~1.8e308 a float is inf).
_SUSPECT = re.compile(
    rb"\x00|\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]|NaN|Infinity"
    rb"|[eE][+-]?\d{3}|(?<!\d)\d{300}"
)
# A JSON string, or an unterminated one up to the end (so the search never restarts inside it:
# linear time on any input).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE_BRACKETS = bytes.maketrans(b"{}", b"[]")
_SURROGATE = re.compile("[\ud800-\udfff]")

Location = tuple[str | int, ...]


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings may nest deeper than ``limit`` (never a false "no").

    Strings are cut out with one regex, everything but brackets with one ``translate`` (braces
    become square brackets: only depth matters). Each pass then deletes every innermost pair
    with ``bytes.replace``, one level at a time: a run of openers as long as the levels still
    allowed is too deep, so is what survives ``limit`` passes. At most ``limit + 1`` passes,
    all C loops over the bytes; unclosed openers count as nesting (``json.loads`` recurses
    into them before it finds the error).
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the usual case: too few brackets to nest that deep
    brackets = _JSON_STRING.sub(b"", body).translate(_SQUARE_BRACKETS, _NOT_BRACKETS)
    passes = 0
    while True:
        # Each opener left stands ``passes`` levels above the pairs already deleted inside it.
        if b"[" * (limit - passes + 1) in brackets:
            return True
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            return False  # what is left is "]]][[[": its openers were counted just above
        brackets = reduced
        passes += 1


def _error(location: Location, message: str, kind: str) -> ProblemFieldError:
    return ProblemFieldError(location=list(location), message=message, type=kind)


def _in_document(value: Any, location: Location) -> Iterator[ProblemFieldError]:
    if isinstance(value, str):
        if NUL in value:
            yield _error(location, NUL_MESSAGE, "nul_character")
        if _SURROGATE.search(value):
            yield _error(location, SURROGATE_MESSAGE, "lone_surrogate")
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield _error(location, NOT_FINITE_MESSAGE, "not_finite")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _in_document(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _in_document(key, location)
            yield from _in_document(item, (*location, key))


def json_body_problems(body: bytes) -> list[ProblemFieldError]:
    if json_depth_exceeds(body):
        return [_error(("body",), TOO_DEEP_MESSAGE, "too_deep")]
    if not _SUSPECT.search(body):
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []  # not JSON: FastAPI says so
    return list(itertools.islice(_in_document(document, ("body",)), MAX_LISTED_ERRORS))


UTF16_MESSAGE = 'the file is UTF-16 (Excel\'s "Unicode text"): save it as CSV UTF-8'


def csv_body_problems(body: bytes) -> list[ProblemFieldError]:
    if b"\x00" not in body:
        return []
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a UTF-16 byte-order mark: NULs everywhere
        return [_error(("body",), UTF16_MESSAGE, "utf16_text")]
    return [_error(("body",), NUL_MESSAGE, "nul_character")]


def url_problems(scope: Scope) -> list[ProblemFieldError]:
    found = []
    if NUL in scope.get("path", ""):
        found.append(_error(("path",), NUL_MESSAGE, "nul_character"))
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if NUL in name or NUL in value:
            found.append(_error(("query", name.replace(NUL, "")), NUL_MESSAGE, "nul_character"))
    return found


def _is_json(media_type: str | None) -> bool:
    # What FastAPI parses as JSON: no Content-Type at all, application/json, application/*+json.
    if media_type is None:
        return True
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class RefuseUnstorableInput:
    """ASGI middleware: such a request gets a 422 problem listing each place at fault."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = url_problems(scope)
        kind = media_type(scope)
        if not found and (_is_json(kind) or kind == "text/csv"):
            buffered = await buffered_body(receive)
            if buffered is None:
                return  # the client left mid-body: nothing to answer, and half a body to no one
            body, receive = buffered
            found = json_body_problems(body) if _is_json(kind) else csv_body_problems(body)
        if not found:
            await self.app(scope, receive, send)
            return
        await send_problem(send, 422, *validation_problem(found))


async def buffered_body(receive: Receive) -> tuple[bytes, Receive] | None:
    """The whole request body (``LimitRequestBodies`` caps it), and a ``receive`` replaying it;
    None if the client disconnected before the end (a truncated CSV must not be imported)."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, replaying(body, receive)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole, then whatever ``receive`` gives next."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
