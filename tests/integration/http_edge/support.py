"""HTTP helpers for the edge tests: a plain client call, and raw sockets for what clients
cannot do (announce a body and not send it, stall halfway)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.demo.system import LocalSystem

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


async def call(
    system: LocalSystem,
    listener: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    data: bytes | str | None = None,
    json_body: Any = None,
    content_type: str | None = None,
) -> Answer:
    """One request to ``listener``; with its bearer token unless ``token`` says otherwise
    (``""``: none)."""
    headers: dict[str, str] = {}
    bearer = system.tokens.get(listener) if token is None else token
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if content_type:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, f"{system.url(listener)}{path}", headers=headers, data=data, json=json_body
        ) as response,
    ):
        return Answer(
            response.status,
            response.headers.get("Content-Type", "").split(";")[0],
            dict(response.headers),
            await response.text(errors="replace"),
        )


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, as the server sent it."""
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
