"""Every HTTP error as RFC 9457 ``application/problem+json``, the same way in every service.

``install_problem_handlers(app)`` makes a FastAPI app answer with a :class:`ProblemDetail` for
HTTPException, FastAPI's validation errors, routing 404/405 and anything unexpected (a generic
500), and documents those bodies in its OpenAPI. ASGI middleware that answers before the app
(size limits, throttling, refused input) sends the same body with :func:`send_problem`.

What a problem never carries: the submitted value. Validation errors keep where and what
(location, message, type) but not pydantic's ``input`` and ``ctx``, and a message that repeats
part of the value (e-mail syntax errors quote the bad domain) is cut back to its generic part.
An unexpected exception is logged by type and code location only: its message can hold a row,
an address or a whole request body.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
MAX_LISTED_ERRORS = 50
# A message sharing this many consecutive characters with the value it describes repeats it.
_ECHO_WINDOW = 5
_MIN_ECHO = 3


class ProblemFieldError(BaseModel):
    location: list[str | int] = Field(
        description='Where: "body", "query", "path" or "header", then field names and indexes.'
    )
    message: str = Field(description="What is wrong, without repeating the value.")
    type: str = Field(description="A stable code for the kind of error (pydantic's).")


class ProblemDetail(BaseModel):
    """An error (RFC 9457). ``errors`` lists the fields at fault when there are any."""

    type: str = Field(default="about:blank", description="about:blank: the status says it all.")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for a person; never the submitted value.")
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="One entry per refused field (validation errors only)."
    )


# RFC 9110's names, whichever Python's http module has (3.11 still says "Request Entity…").
_TITLES = {413: "Content Too Large", 416: "Range Not Satisfiable", 422: "Unprocessable Content"}


def problem(status: int, detail: str, errors: Sequence[ProblemFieldError] = ()) -> ProblemDetail:
    return ProblemDetail(
        title=_TITLES.get(status) or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors) or None,
    )


def problem_bytes(body: ProblemDetail) -> bytes:
    return json.dumps(body.model_dump(exclude_none=True), ensure_ascii=False).encode()


def problem_response(
    status: int,
    detail: str,
    errors: Sequence[ProblemFieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        problem_bytes(problem(status, detail, errors)),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    errors: Sequence[ProblemFieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer from ASGI middleware, before (or instead of) the app."""
    body = problem_bytes(problem(status, detail, errors))
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


# --- validation errors ------------------------------------------------------------------------


def _echoes(message: str, value: object) -> bool:
    """Whether ``message`` repeats a run of ``value``'s characters (or all of a short value)."""
    if not isinstance(value, str | bytes) or len(value) < _MIN_ECHO:
        return False
    text = value if isinstance(value, str) else value.decode("latin-1")
    window = min(_ECHO_WINDOW, len(text))
    return any(
        message[start : start + window] in text for start in range(len(message) - window + 1)
    )


_QUOTED = re.compile(r"""\s?(?:'[^']*'|"[^"]*")""")


def _safe_message(message: str, value: object) -> str:
    """``message``, less what repeats ``value``: its quoted parts that do ("unknown time zone
    'Mars/Base'"), else the general part before a colon ("value is not a valid email address:
    <why, quoting the domain>"), else a generic sentence."""
    if not _echoes(message, value):
        return message
    unquoted = _QUOTED.sub(lambda m: "" if _echoes(m.group(), value) else m.group(), message)
    if not _echoes(unquoted, value):
        return unquoted
    general = message.split(":", 1)[0]
    if general != message and not _echoes(general, value):
        return general
    return "the value is not valid"


# pydantic's own messages are templates of what was expected, never of the input; these types
# carry a message written by a validator (ours, or the e-mail syntax check), which may quote it.
_FREE_TEXT_ERRORS = frozenset({"value_error", "assertion_error"})


def field_errors(raw: Sequence[Mapping[str, Any]]) -> list[ProblemFieldError]:
    """pydantic/FastAPI error dicts as problem entries: location, message and type only (the
    first ``MAX_LISTED_ERRORS``: a list of ten thousand bad items need not cost ten thousand)."""
    entries = []
    for error in raw[:MAX_LISTED_ERRORS]:
        kind = str(error.get("type", "value_error"))
        message = str(error.get("msg", ""))
        if kind in _FREE_TEXT_ERRORS:
            message = _safe_message(message, error.get("input"))
        entries.append(
            ProblemFieldError(
                location=[part if isinstance(part, int) else str(part) for part in error["loc"]],
                message=message,
                type=kind,
            )
        )
    return entries


def validation_problem(
    errors: Sequence[ProblemFieldError], total: int | None = None
) -> tuple[str, list[ProblemFieldError]]:
    """The detail sentence and the (capped) list for field errors, ``total`` of them in all."""
    listed = list(errors[:MAX_LISTED_ERRORS])
    summary = "; ".join(
        f"{'.'.join(str(part) for part in error.location)}: {error.message}" for error in listed[:3]
    )
    more = (total if total is not None else len(errors)) - min(len(errors), 3)
    detail = f"the request is not valid: {summary}" + (f" (and {more} more)" if more else "")
    return detail, listed


# --- handlers -----------------------------------------------------------------------------------


async def _http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else problem(status, "").title
    if status < 400:  # not an error: nothing to describe
        return Response(status_code=status, headers=exc.headers)
    return problem_response(status, detail, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    detail, errors = validation_problem(field_errors(raw), total=len(raw))
    return problem_response(422, detail, errors)


async def _unexpected(_request: Request, _exc: Exception) -> Response:
    # Logged (type only) by _LogUnexpected, which sees the exception re-raised.
    return problem_response(500, "an unexpected error occurred; it has been logged")


class _LogUnexpected:
    """Outermost layer: Starlette answers an unexpected exception (with ``_unexpected``) and
    then re-raises it for the server to log with its message and traceback; the message can
    hold personal data, so it is logged here by type and location and goes no further."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            log_unexpected(error, scope)


def log_unexpected(error: BaseException, scope: Scope) -> None:
    route = scope.get("route")
    where = getattr(route, "path", None) or "(no route)"
    frames = traceback.extract_tb(error.__traceback__)
    origin = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"
    log.error(
        "unhandled %s in %s %s (raised at %s)",
        type(error).__name__,
        scope.get("method", scope.get("type", "?")),
        where,
        origin,
    )


Handler = Callable[[Request, Exception], Awaitable[Response]]


OpenApiStep = Callable[[dict[str, Any]], dict[str, Any]]


def install_problem_handlers(app: FastAPI, document: OpenApiStep | None = None) -> None:
    """Every error ``app`` answers becomes a ProblemDetail, and its OpenAPI says so.
    ``document``: a step run on the OpenAPI first (declaring each route's error statuses)."""
    handlers: dict[type[Exception], Handler] = {
        HTTPException: _http_exception,
        RequestValidationError: _validation_error,
        Exception: _unexpected,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    build_stack = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return _LogUnexpected(build_stack())

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    make_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = make_openapi()
            if document is not None:
                schema = document(schema)
            app.openapi_schema = problems_in_openapi(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- OpenAPI ------------------------------------------------------------------------------------

_REPLACED_SCHEMAS = ("HTTPValidationError", "ValidationError")
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetail"}


def problems_in_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses (4xx, 5xx) documented as ``application/problem+json`` ProblemDetail."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for code, response in operation.get("responses", {}).items():
                if str(code)[0] in "45":
                    content = response.get("content", {})
                    if not content or "application/json" in content:
                        response["content"] = {PROBLEM_JSON: {"schema": dict(_PROBLEM_REF)}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    definition = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(definition.pop("$defs", {}))
    components["ProblemDetail"] = definition
    for name in _REPLACED_SCHEMAS:  # the wrapper first: it refers to the other
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components.pop(name, None)
    return schema
