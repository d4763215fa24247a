"""The AsyncAPI document describes every contract, on its subject, with the model's own schema,
and is a valid AsyncAPI 3.0 document.

``asyncapi/asyncapi-3.0.0.json`` is the official JSON Schema of AsyncAPI 3.0.0 (the file
``schemas/3.0.0-without-$id.json`` of the repository asyncapi/spec-json-schemas, Apache-2.0),
kept here so the check needs no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from shared import subjects
from shared.asyncapi import asyncapi_document, channel_id, event_models
from shared.streams import stream_for_subject

SPEC = Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document("scheduler")


def published_subjects() -> set[str]:
    return {
        value
        for name, value in vars(subjects).items()
        if name.isupper() and isinstance(value, str) and name != "DEAD_LETTER_PREFIX"
    }


def test_it_is_a_valid_asyncapi_3_document(document: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SPEC.read_text()))
    errors = [
        f"{list(e.instance_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert errors == []
    assert document["asyncapi"] == "3.0.0"


def test_the_validation_can_fail(document: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SPEC.read_text()))
    broken = {**document, "channels": {"x": {"address": 5}}}
    assert not validator.is_valid(broken)


def test_every_subject_and_contract_is_a_channel_with_its_message(
    document: dict[str, Any],
) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == published_subjects()
    models = event_models()
    assert {model.subject for model in models} == published_subjects()
    assert len({model.__name__ for model in models}) == len(models)
    for model in models:
        channel = document["channels"][channel_id(model.subject)]
        assert channel["address"] == model.subject
        assert stream_for_subject(model.subject).name in channel["description"]
        name = model.__name__
        assert channel["messages"] == {name: {"$ref": f"#/components/messages/{name}"}}
        assert document["components"]["messages"][name]["payload"] == {
            "$ref": f"#/components/schemas/{name}"
        }


def test_every_schema_is_the_models_own(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in event_models():
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        definitions = expected.pop("$defs", {})
        assert schemas[model.__name__] == expected, model.__name__
        for name, definition in definitions.items():
            assert schemas[name] == definition, name


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    every = refs(document)
    assert len(every) > 2 * len(event_models())
    for ref in every:
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict), ref
