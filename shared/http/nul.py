"""Refuse the NUL character in paths, query strings and JSON or CSV bodies, with a 422; and
JSON nested deeper than any of our documents.

PostgreSQL text cannot hold U+0000 (SQLite can), so a NUL that reached a query would be a 500
on one database and stored on the other. No field of ours means anything with it, so it is
refused at the door, the same way on every database, naming where it was.

JSON nested past the interpreter's recursion limit made ``json.loads`` (here and in FastAPI)
raise RecursionError, a 500; such a body is refused here before anything parses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL = "\x00"
_CHECKED_BODIES = ("application/json", "text/csv")
MESSAGE = "the NUL character (U+0000) is not allowed"
MAX_JSON_DEPTH = 64  # our deepest document nests 4 levels
TOO_DEEP = f"JSON nested more than {MAX_JSON_DEPTH} levels deep"


def _nul_locations(value: Any, location: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if NUL in value:
            yield location
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_locations(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield location
            yield from _nul_locations(item, (*location, key))


class RefuseNulCharacters:
    """ASGI middleware: a request carrying U+0000 gets a 422 in FastAPI's validation shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = list(self._in_url(scope))
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        if not found and content_type.split(";")[0].strip().lower() in _CHECKED_BODIES:
            body, receive = await _buffered(receive)
            found = list(self._in_body(body, content_type))
        if not found:
            await self.app(scope, receive, send)
            return
        detail = [
            {
                "loc": list(loc),
                "msg": TOO_DEEP if loc == _TOO_DEEP else MESSAGE,
                "type": "value_error",
            }
            for loc in found
        ]
        payload = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _in_url(scope: Scope) -> Iterator[tuple[str | int, ...]]:
        if NUL in scope.get("path", ""):
            yield ("path",)
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if NUL in name or NUL in value:
                yield ("query", name.replace(NUL, ""))

    @staticmethod
    def _in_body(body: bytes, content_type: str) -> Iterator[tuple[str | int, ...]]:
        if content_type.startswith("text/csv"):
            if b"\x00" in body:
                yield ("body",)
            return
        if _nesting_depth(body) > MAX_JSON_DEPTH:
            yield _TOO_DEEP
            return
        try:
            document = json.loads(body)
        except ValueError:
            return  # not JSON: FastAPI says so
        yield from _nul_locations(document, ("body",))


_TOO_DEEP: tuple[str | int, ...] = ("body", "(nesting)")


def _nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting outside strings, counted without parsing (no recursion)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep: skip the byte-by-byte walk (the usual case)
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that replays it to the app."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
