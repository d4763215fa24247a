"""The HTML pages members reach from links (answer forms, unsubscribe, preferences): one look,
one set of security headers.

Everything a page prints is escaped by the code that builds it; the headers are the second
line of defence: no script, style only the page's own (by hash), forms post only here, no
framing, no referrer, no caching of a page whose URL is a credential. They are added by the
routers' route class, so every response of a member route carries them, error pages included.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cache
from html import escape
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from services.notifier.domain.signed_links import ExpiredLink, InvalidLink
from shared.http.page_headers import page_security_headers

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}fieldset{border:0;padding:0;margin:0 0 1.5rem}legend{font-weight:600;"
    "margin-bottom:.5rem}label{display:block;padding:.75rem;margin:.5rem 0;border:1px solid #bbb;"
    "border-radius:.5rem}button{font-size:1.1rem;padding:.75rem 1.5rem;border-radius:.5rem}"
    ".support{background:#f3f6ff;border-left:4px solid #3b5bdb;padding:1rem}"
    # The preferences page: a visible keyboard focus, and notices in colours that keep a
    # contrast above 7:1 on their backgrounds.
    ":focus-visible{outline:3px solid #1a3fb0;outline-offset:2px}"
    'input[type="time"]{display:block;font-size:1.1rem;margin-top:.25rem}'
    ".saved{background:#e6f4ea;color:#0b3d1b;border-left:4px solid #1e7b34;padding:1rem}"
    ".error{background:#fdecea;color:#5c0b0b;border-left:4px solid #b3261e;padding:0 1rem}"
)

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>{style}</style>
</head><body>{body}</body></html>"""


@cache
def security_headers() -> dict[str, str]:
    """The headers every member page carries."""
    return page_security_headers(_STYLE)


def page(title: str, body: str, status_code: int = 200, lang: str = "en") -> HTMLResponse:
    """A member page in language ``lang``. ``body`` is HTML: whatever it quotes must already
    be escaped. (The security headers come from ``MemberPageRoute``.)"""
    html = _PAGE.format(lang=escape(lang), title=escape(title), style=_STYLE, body=body)
    return HTMLResponse(html, status_code=status_code)


def link_problem(error: InvalidLink) -> HTMLResponse:
    if isinstance(error, ExpiredLink):
        return page("Link expired", "<h1>This link has expired</h1>", 410)
    return page("Link not valid", "<h1>This link is not valid</h1>", 403)


def error_page(status_code: int) -> HTMLResponse:
    """A page for an HTTP error on a member route; it names the status, never the detail
    (which may quote what was sent)."""
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Error"
    return page(phrase, f"<h1>{escape(phrase)}</h1>", status_code)


class MemberPageRoute(APIRoute):
    """A route whose every response is a member page with the security headers, including an
    HTTP error raised on the way (a form body that cannot be parsed, one too large …)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def member_page(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as error:
                response = error_page(error.status_code)
            response.headers.update(security_headers())
            return response

        return member_page
