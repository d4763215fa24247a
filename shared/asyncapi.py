"""An AsyncAPI 3.0 document of every event, generated from ``shared.contracts``.

FastStream's own generator sees no contract (our consumers take raw bytes and validate them
with the contract themselves), so the document is made here from what the code uses: each
:class:`~shared.contracts.base.Event` subclass gives a message (its JSON Schema, the one
consumers validate against) on a channel whose address is its ``subject``, in the JetStream
stream ``shared.streams`` captures it with. Dead letters (``deadletter.<subject>``) carry the
original bytes with headers, not a contract of their own: they are described, not modelled.

Every service serves the same document at ``GET /asyncapi.json`` on its operators' listener,
beside ``/openapi.json`` (and only where the settings enable API docs, as for the OpenAPI).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

import shared.contracts  # noqa: F401  (every contract module, so each Event subclass exists)
from shared.contracts.base import Event
from shared.streams import stream_for_subject
from shared.subjects import DEAD_LETTER_PREFIX

ASYNCAPI_VERSION = "3.0.0"
ASYNCAPI_PATH = "/asyncapi.json"
SCHEMA_REF = "#/components/schemas/{model}"


def event_models() -> list[type[Event]]:
    """Every concrete event contract (one with a subject), by subject."""
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = list(Event.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        subject = getattr(model, "subject", None)
        if isinstance(subject, str):
            if subject in found and found[subject] is not model:
                raise ValueError(f"two contracts on {subject}: {found[subject]} and {model}")
            found[subject] = model
    return [found[subject] for subject in sorted(found)]


def channel_id(subject: str) -> str:
    """A channel's key: the subject with its dots as underscores (ids allow no dots)."""
    return subject.replace(".", "_").replace("-", "_")


def message_schema(model: type[Event]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's JSON Schema with references into ``components/schemas``, and the
    definitions it refers to."""
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    definitions = schema.pop("$defs", {})
    return schema, definitions


def asyncapi_document(service: str) -> dict[str, Any]:
    """The document ``service`` serves: every event, its channel and its schema."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for model in event_models():
        name = model.__name__
        schema, definitions = message_schema(model)
        for definition, body in definitions.items():
            if schemas.setdefault(definition, body) != body:
                raise ValueError(f"two different schemas named {definition}")
        schemas[name] = schema
        stream = stream_for_subject(model.subject)
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (model.__doc__ or name).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": "The event_id: JetStream drops a duplicate within "
                        f"{stream.duplicate_window_s:.0f} s.",
                    }
                },
            },
            "payload": {"$ref": SCHEMA_REF.format(model=name)},
        }
        channels[channel_id(model.subject)] = {
            "address": model.subject,
            "title": model.subject,
            "description": f"NATS JetStream subject, kept in the {stream.name} stream.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"Connection Rituals events ({service})",
            "version": "1",
            "description": "Every event that crosses NATS JetStream between the services, "
            "generated from shared/contracts. A message that cannot be processed goes, "
            f"unchanged, to {DEAD_LETTER_PREFIX}.<subject> (the DEADLETTERS stream).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def asyncapi_router(service: str) -> APIRouter:
    """``GET /asyncapi.json``; the document is made once, on the first request."""
    router = APIRouter(tags=["events"])
    document: dict[str, Any] = {}

    @router.get(ASYNCAPI_PATH, summary="AsyncAPI 3.0 document of every event", response_model=None)
    async def asyncapi() -> JSONResponse:
        if not document:
            document.update(asyncapi_document(service))
        return JSONResponse(document)

    return router


def serve_asyncapi(app: FastAPI, service: str) -> None:
    """Beside the OpenAPI, where there is one (API docs enabled in the settings)."""
    if app.openapi_url is not None:
        app.include_router(asyncapi_router(service), include_in_schema=False)
