"""How the APIs document a 422 that carries a sentence rather than a list of field errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    detail: str | list[FieldError] = Field(
        description="Why the request was refused: a sentence, or one entry per field."
    )


# For ``responses=`` of a route that raises HTTPException(422, "reason") as well as FastAPI's
# own per-field validation errors: declaring 422 replaces FastAPI's list-only schema.
UNPROCESSABLE: dict[int | str, dict[str, Any]] = {
    422: {"model": Unprocessable, "description": "Refused: the detail says what is wrong."}
}
