"""Request bodies capped per route and media type, before anything reads them.

A body declared too large (Content-Length) is refused from the headers: 413 at once, nothing
read. A body without a length (chunked) is counted as it arrives and refused as soon as it
passes the limit; nothing beyond the chunk that crossed it is read. The 413 closes the
connection, so the client's unread bytes are not drained into the server either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import send_problem

DEFAULT_MAX_BODY_BYTES = 64 * 1024
_CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class BodyLimits:
    """``default`` bytes for every request; ``larger`` for the (exact path, media type) pairs
    that need more: the member import takes megabytes of CSV, not of JSON, so the checks that
    parse JSON never see more than the default."""

    default: int = DEFAULT_MAX_BODY_BYTES
    larger: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def for_request(self, path: str, media_type: str | None) -> int:
        return self.larger.get((path, media_type or ""), self.default)


def media_type(scope: Scope) -> str | None:
    """The request's media type, lowercase and without parameters; None without a header."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).decode("latin-1").split(";")[0].strip().lower()
    return None


def too_large_detail(limit: int) -> str:
    return f"the request body is larger than this route accepts ({limit} bytes at most)"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its limit; FastAPI lets HTTPException through
    its body parsing, so the route's app answers it as a 413 problem (or this middleware does)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit), headers=_CLOSE)
        self.limit = limit


class LimitRequestBodies:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_request(scope.get("path", ""), media_type(scope))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await send_problem(send, 413, too_large_detail(limit), headers=_CLOSE)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if received > limit:
                raise BodyTooLarge(limit)  # asked again after the refusal: still refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as error:  # raised where no app turned it into a response
            if started:
                raise
            await send_problem(send, 413, too_large_detail(error.limit), headers=_CLOSE)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None
