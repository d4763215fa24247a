"""How the APIs document a 422 whose detail is a sentence as well as FastAPI's field errors."""

from __future__ import annotations

from typing import Any

from shared.http.problems import ProblemDetail

# For ``responses=`` of a route that raises HTTPException(422, "reason") as well as FastAPI's
# own per-field validation errors: both are a ProblemDetail (``problems`` documents its media
# type, application/problem+json).
UNPROCESSABLE: dict[int | str, dict[str, Any]] = {
    422: {"model": ProblemDetail, "description": "Refused: the detail says what is wrong."}
}
