"""201 Created answers carry ``Location``: where the new resource can be read.

The value is a path (RFC 9110 resolves a relative reference against the request), so it stays
right behind a proxy that rewrites the host. Every 201 in the OpenAPI documents the header.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Response

LOCATION_HEADER = {
    "Location": {
        "description": "The path of the created resource.",
        "schema": {"type": "string", "example": "/v1/communities/riverside"},
    }
}


def set_location(response: Response, collection: str, *ids: str) -> None:
    """``Location: <collection>/<id>[/<id>…]``, each id percent-encoded as a path segment."""
    response.headers["Location"] = "/".join([collection, *(quote(part, safe="") for part in ids)])


def document_locations(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 201 response in ``schema`` declares the ``Location`` header."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "201" in operation.get("responses", {}):
                operation["responses"]["201"].setdefault("headers", {}).update(LOCATION_HEADER)
    return schema
