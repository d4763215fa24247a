"""Which error statuses each route can answer, declared in its OpenAPI (as problem+json).

``document_route_problems`` reads them off each operation FastAPI generated, so the
declaration cannot drift from the code that answers them:

- 401 when the operation has a security requirement (a bearer-token dependency);
- 404 when the path names something (a path parameter), unless the route says it never
  answers 404 (``openapi_extra=NEVER_NOT_FOUND``: a PUT that creates what it names);
- 413 and 422 when it takes a body (``LimitRequestBodies``, then validation);
- 422 when it takes any parameter, 400 when one of them is the pagination cursor;
- 429 on every route but the probes (``ThrottleAuthFailures`` blocks a peer everywhere).

Statuses a handler raises for its own reasons (409, 415, a 422 whose detail is a sentence)
are declared on the route with ``responses=``; what is declared there keeps its description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.http.pagination import CURSOR_PARAMETER
from shared.http.problems import ProblemDetail
from shared.http.throttle import EXEMPT_PREFIX

# For ``responses=`` of a route that raises HTTPException(422, "reason") as well as FastAPI's
# own per-field validation errors: both are a ProblemDetail (``problems`` documents its media
# type, application/problem+json).
UNPROCESSABLE: dict[int | str, dict[str, Any]] = {
    422: {"model": ProblemDetail, "description": "Refused: the detail says what is wrong."}
}
_NO_404_KEY = "x-never-not-found"
NEVER_NOT_FOUND: dict[str, Any] = {_NO_404_KEY: True}


def problem_response(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry for a status a route's handler raises itself."""
    return {status: {"model": ProblemDetail, "description": description}}


NOT_FOUND = "Not found: the detail says what."
TOO_LARGE = "The request body is larger than this route accepts."
INVALID = "Refused: the detail (and errors, per field) say what is wrong."
BAD_CURSOR = "The cursor is not valid (altered, or from a query with other filters)."
THROTTLED = "Too many failed authentication attempts from this address: see Retry-After."

AUTH = "No valid bearer token (see WWW-Authenticate)."


def operation_problems(path: str, operation: Mapping[str, Any]) -> dict[int, str]:
    """The error statuses the operation at ``path`` can answer, each with a description."""
    found: dict[int, str] = {}
    parameters = operation.get("parameters", [])
    where = {parameter["in"] for parameter in parameters}
    takes_body = "requestBody" in operation
    if operation.get("security"):
        found[401] = AUTH
    if "path" in where and not operation.get(_NO_404_KEY):
        found[404] = NOT_FOUND
    if takes_body:
        found[413] = TOO_LARGE
    if takes_body or parameters:
        found[422] = INVALID
    if any(p["in"] == "query" and p["name"] == CURSOR_PARAMETER for p in parameters):
        found[400] = BAD_CURSOR
    if not path.startswith(EXEMPT_PREFIX):
        found[429] = THROTTLED
    return found


def _is_page(operation: Mapping[str, Any]) -> bool:
    successes = [r for code, r in operation["responses"].items() if str(code).startswith("2")]
    return any(set(r.get("content", {})) == {"text/html"} for r in successes)


def document_route_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds to an OpenAPI ``schema`` every error status each operation can answer; the
    problem handlers' OpenAPI step then gives each the problem+json body."""
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            problems = operation_problems(path, operation)
            operation.pop(_NO_404_KEY, None)
            for status, description in sorted(problems.items()):
                declared: dict[str, Any] = {"description": description}
                if status == 404 and _is_page(operation):  # a page's "not found" is a page
                    declared["content"] = {"text/html": {"schema": {"type": "string"}}}
                operation["responses"].setdefault(str(status), declared)
    return schema
