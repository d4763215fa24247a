"""Headers every response of every listener carries, unless the route set its own.

Member pages set a full Content-Security-Policy of their own (``member_pages``); everything else
— JSON, problem+json, CSV, answers refused by the edge before any route ran (413, 429) — is
data, never to be sniffed into a page, framed, cached or sent on as a referrer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
)
DATA_POLICY = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in DEFAULTS if pair[0] not in present]
                content_type = dict(headers).get(b"content-type", b"")
                # HTML (member pages, and the docs outside prod) brings its own policy.
                if DATA_POLICY[0] not in present and not content_type.startswith(b"text/html"):
                    headers.append(DATA_POLICY)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
