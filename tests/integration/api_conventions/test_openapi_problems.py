"""Every error of the operators' APIs is problem+json, and each route's OpenAPI declares the
statuses it answers; every list is a page; every 201 says where; ids are named one way."""

from __future__ import annotations

from typing import Any

import pytest

from services.demo.system import LocalSystem
from shared.asyncapi import asyncapi_document
from tests.integration.http_edge.support import PROBLEM_JSON, call

OPERATOR_LISTENERS = ("scheduler", "notifier", "insights")
# Lists follow one convention wherever they are served: the analysts' API's too.
LIST_LISTENERS = (*OPERATOR_LISTENERS, "insights-analyst")
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}
# A computed list, not a collection: as many instants as ``count`` asks (at most 100).
NOT_COLLECTIONS = {("scheduler", "/v1/rituals/{ritual_id}/preview")}
METHODS = {"get", "post", "put", "patch", "delete"}


async def openapi(system: LocalSystem, listener: str) -> dict[str, Any]:
    answer = await call(system, listener, "GET", "/openapi.json", token="")
    assert answer.status == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def success_schema(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    for code in ("200", "201"):
        content = operation["responses"].get(code, {}).get("content", {})
        if "application/json" in content:
            return resolve(document, content["application/json"]["schema"])
    return {}


def lists_of_objects(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The properties of ``schema`` that hold an array of objects (a nullable one too)."""
    found = set()
    for name, prop in schema.get("properties", {}).items():
        for variant in prop.get("anyOf", [prop]):
            variant = resolve(document, variant)
            if variant.get("type") != "array":
                continue
            item = resolve(document, variant.get("items", {}))
            if item.get("type") == "object" or "properties" in item:
                found.add(name)
    return found


def test_an_unpaged_list_in_a_document_is_seen() -> None:
    """The check above, on the shape ``/v1/areas`` had before it was paged."""
    document = {"components": {"schemas": {"Area": {"type": "object", "properties": {}}}}}
    areas = {
        "type": "object",
        "properties": {
            "communities": {"type": "array", "items": {"$ref": "#/components/schemas/Area"}},
            "regions": {
                "anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "null"}]
            },
            "time_slots": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert lists_of_objects(document, areas) == {"communities", "regions"}


@pytest.mark.parametrize("listener", OPERATOR_LISTENERS)
async def test_each_route_declares_its_errors_as_problems(
    system: LocalSystem, listener: str
) -> None:
    document = await openapi(system, listener)
    assert "ProblemDetail" in document["components"]["schemas"]
    checked = 0
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for code, response in responses.items():
            if code[0] in "45":
                assert response["content"] == PROBLEM_CONTENT, (where, code)
        if path.startswith("/health/"):
            continue
        checked += 1
        declared = set(responses)
        assert operation.get("security"), f"{where} is not authenticated"
        assert {"401", "429"} <= declared, where
        if "{" in path and not (method == "put" and path.startswith("/v1/templates/")):
            assert "404" in declared, where
        if "requestBody" in operation:
            assert {"413", "422"} <= declared, where
        if operation.get("parameters"):
            assert "422" in declared, where
        if method == "post" and "201" in responses:
            assert "Location" in responses["201"]["headers"], where
    assert checked >= 3


@pytest.mark.parametrize("listener", LIST_LISTENERS)
async def test_every_list_is_a_page_with_limit_and_cursor(
    system: LocalSystem, listener: str
) -> None:
    document = await openapi(system, listener)
    pages = 0
    for path, method, operation in operations(document):
        if method != "get" or (listener, path) in NOT_COLLECTIONS:
            continue
        schema = success_schema(document, operation)
        assert schema.get("type") != "array", f"GET {path} answers a bare array"
        # Nor a list of things wrapped in a document of its own (say {"communities": [...]}):
        # any array of objects is a page's items.
        listed = lists_of_objects(document, schema)
        assert listed <= {"items"}, f"GET {path} answers unpaged lists {sorted(listed)}"
        if "items" in schema.get("properties", {}):
            pages += 1
            assert set(schema["required"]) >= {"items", "next_cursor"}, path
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert {"limit", "cursor"} <= names, path
            limit = next(p for p in operation["parameters"] if p["name"] == "limit")
            assert limit["schema"]["maximum"] <= 500, path
            for code in ("400", "401", "422", "429"):
                assert operation["responses"][code]["content"] == PROBLEM_CONTENT, (path, code)
    assert pages >= (3 if listener == "insights-analyst" else 1)


async def test_the_csv_of_values_follows_the_same_cursor(system: LocalSystem) -> None:
    operation = (await openapi(system, "insights-analyst"))["paths"]["/v1/values.csv"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert {"limit", "cursor", "period", "area"} <= names
    for code in ("400", "401", "422", "429"):
        assert operation["responses"][code]["content"] == PROBLEM_CONTENT, code


async def test_ids_are_id_on_the_resource_and_thing_id_in_references(
    system: LocalSystem,
) -> None:
    """``GET /v1/<things>/{thing_id}`` answers a resource whose own id is ``id``, never
    ``thing_id`` (the notifier's members said ``member_id``, the scheduler's rituals ``id``)."""
    seen = []
    for listener in OPERATOR_LISTENERS:
        document = await openapi(system, listener)
        for path, method, operation in operations(document):
            segments = path.strip("/").split("/")
            if method != "get" or len(segments) != 3 or not segments[2].startswith("{"):
                continue
            own = segments[2].strip("{}")
            properties = success_schema(document, operation).get("properties", {})
            assert "id" in properties, path
            assert own not in properties, f"{path} names its own id {own}"
            seen.append(path)
            for name in properties:
                assert name == "id" or not name.endswith("id") or name.endswith("_id"), name
    assert len(seen) >= 4, seen


async def test_unknown_routes_methods_and_credentials_are_problems(system: LocalSystem) -> None:
    for listener in OPERATOR_LISTENERS:
        for method, path, token, status in (
            ("GET", "/v1/no-such-thing", None, 404),
            ("DELETE", "/health/live", None, 405),
            ("GET", "/v1/releases" if listener == "insights" else "/v1/templates", "", 401),
            ("GET", "/v1/releases" if listener == "insights" else "/v1/templates", "bad", 401),
        ):
            if listener == "scheduler" and path == "/v1/templates":
                path = "/v1/communities"
            answer = await call(system, listener, method, path, token=token)
            assert (listener, path, answer.status) == (listener, path, status)
            assert answer.content_type == PROBLEM_JSON, answer
            assert answer.json()["status"] == status


async def test_the_asyncapi_document_is_served_beside_the_openapi(system: LocalSystem) -> None:
    for listener in OPERATOR_LISTENERS:
        answer = await call(system, listener, "GET", "/asyncapi.json", token="")
        assert (listener, answer.status) == (listener, 200), answer.text
        assert answer.json() == asyncapi_document(listener)
    for listener in ("notifier-public", "insights-analyst"):  # not on the public listeners
        answer = await call(system, listener, "GET", "/asyncapi.json", token="")
        assert (listener, answer.status) == (listener, 404)
