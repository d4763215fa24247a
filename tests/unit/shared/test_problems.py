"""Problem details: validation errors without the input; the OpenAPI says problem+json."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, EmailStr, field_validator

from shared.http.problems import PROBLEM_JSON, field_errors, install_problem_handlers


class Person(BaseModel):
    email: EmailStr
    zone: str

    @field_validator("zone")
    @classmethod
    def _known(cls, value: str) -> str:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)")


def app() -> FastAPI:
    api = FastAPI()

    @api.post("/people")
    async def add(person: Person) -> Person:
        return person

    install_problem_handlers(api)
    return api


def test_field_errors_keep_where_and_what_but_not_the_value() -> None:
    raw: list[dict[str, Any]] = [
        {
            "type": "value_error",
            "loc": ("body", "zone"),
            "msg": "unknown zone 'Mars/Base'",
            "input": "Mars/Base",
            "ctx": {"error": "Mars/Base"},
        },
        {
            "type": "literal_error",
            "loc": ("body", "channel"),
            "msg": "Input should be 'email'",
            "input": "emails",
        },
        {
            "type": "value_error",
            "loc": ("body", "email"),
            "msg": "value is not a valid email address: It has no 'zelda.example' part (zelda)",
            "input": "zelda.example",
        },
    ]
    errors = [e.model_dump() for e in field_errors(raw)]
    assert errors == [
        {"location": ["body", "zone"], "message": "unknown zone", "type": "value_error"},
        {
            "location": ["body", "channel"],
            "message": "Input should be 'email'",
            "type": "literal_error",
        },
        {
            "location": ["body", "email"],
            "message": "value is not a valid email address",
            "type": "value_error",
        },
    ]


async def test_a_validation_error_is_a_problem_without_the_input() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app()), base_url="http://t"
    ) as http:
        response = await http.post(
            "/people", json={"email": "zelda@ex!ample.org", "zone": "Mars/Base"}
        )
        openapi = (await http.get("/openapi.json")).json()
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "ex!ample" not in response.text
    assert "Mars/Base" not in response.text
    assert [e["location"] for e in response.json()["errors"]] == [
        ["body", "email"],
        ["body", "zone"],
    ]
    declared = openapi["paths"]["/people"]["post"]["responses"]["422"]["content"]
    assert declared == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}
    schemas = openapi["components"]["schemas"]
    assert {"ProblemDetail", "ProblemFieldError"} <= schemas.keys()
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


async def test_a_thousand_bad_items_list_fifty_and_count_the_rest() -> None:
    api = FastAPI()

    @api.post("/numbers")
    async def add(numbers: list[int]) -> int:
        return len(numbers)

    install_problem_handlers(api)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post("/numbers", json=["x"] * 1000)
    problem = response.json()
    assert len(problem["errors"]) == 50
    assert problem["detail"].endswith("(and 997 more)")
