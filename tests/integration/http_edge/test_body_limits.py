"""Request bodies are capped per route and refused before they are read (defect 2).

The input check used to buffer every JSON or CSV body, whole and unbounded, before routing and
authentication: 40 MB of ``[`` to /health/live held a service for seconds, 100 MB cost 300 MB.
Now a body declared too large gets 413 from the headers, one without a length is read no
further than its limit, and a stalled upload holds up nothing else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message

from services.demo.system import DatabaseFor, LocalSystem
from shared.clock import ManualClock
from shared.http.limits import DEFAULT_MAX_BODY_BYTES
from tests.integration.http_edge.support import PROBLEM_JSON, call, read_response, request_head

IMPORT_LIMIT = 256 * 1024  # the member import's own limit in these tests (4 MiB by default)
HUGE = 100 * 1024 * 1024
WEBHOOK = "/v1/webhooks/sms/twilio/inbound"
# Listener, method and path: unauthenticated requests (the tester's) to every listener.
ROUTES = [
    ("scheduler", "POST", "/v1/communities"),
    ("scheduler", "GET", "/health/live"),
    ("notifier", "POST", "/v1/members"),
    ("notifier", "POST", "/v1/members/import"),
    ("notifier-public", "POST", WEBHOOK),
    ("insights", "GET", "/health/live"),
    ("insights-analyst", "GET", "/v1/values"),
]


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[LocalSystem]:
    overrides = {"member_import_max_bytes": IMPORT_LIMIT}
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as local:
        yield local


@pytest.mark.parametrize("content_type", ["application/json", "text/csv", None])
async def test_a_body_announced_too_large_is_refused_before_it_is_sent(
    system: LocalSystem, content_type: str | None
) -> None:
    for listener, method, path in ROUTES:
        reader, writer = await asyncio.open_connection("127.0.0.1", system.ports[listener])
        try:
            headers = {"Content-Length": str(HUGE)}
            if content_type:
                headers["Content-Type"] = content_type
            writer.write(request_head(method, path, headers))  # and not one byte of the body
            await writer.drain()
            # The old code waited for the 100 MiB that never come: no answer at all.
            status, response_headers, body = await asyncio.wait_for(read_response(reader), 30)
            assert (listener, path, status) == (listener, path, 413)
            assert response_headers["content-type"] == PROBLEM_JSON
            assert response_headers["connection"] == "close"
            problem = json.loads(body)
            assert (problem["status"], problem["title"]) == (413, "Content Too Large")
            assert await asyncio.wait_for(reader.read(), 30) == b""  # the server hung up
        finally:
            writer.close()


async def test_only_the_member_import_accepts_a_larger_body(system: LocalSystem) -> None:
    # Rows refused for their consent column: each is reported, none reaches the database.
    rows = "".join(f"member{n}@example.org,,maybe,yes\n" for n in range(3_000))
    csv = "email,phone,prompt_consent,insights_consent\n" + rows
    assert DEFAULT_MAX_BODY_BYTES < len(csv) < IMPORT_LIMIT
    answer = await call(
        system, "notifier", "POST", "/v1/members/import", data=csv, content_type="text/csv"
    )
    assert answer.status == 200, answer.text
    assert answer.json()["failed"] == 3_000
    too_big = "email,prompt_consent,insights_consent\n" + "x" * IMPORT_LIMIT
    answer = await call(
        system, "notifier", "POST", "/v1/members/import", data=too_big, content_type="text/csv"
    )
    assert (answer.status, answer.content_type) == (413, PROBLEM_JSON)
    member = {"email": "ann@example.org", "padding": "x" * DEFAULT_MAX_BODY_BYTES}
    for path in ("/v1/members", "/v1/members/import"):  # the import takes more CSV, not JSON
        answer = await call(system, "notifier", "POST", path, json_body=member)
        assert (path, answer.status, answer.content_type) == (path, 413, PROBLEM_JSON)


class CountingBody:
    """An ASGI ``receive`` handing over a body in chunks, counting what it handed over."""

    def __init__(self, chunk: bytes, total: int) -> None:
        self.chunk = chunk
        self.total = total
        self.handed_over = 0

    async def receive(self) -> Message:
        size = min(len(self.chunk), self.total - self.handed_over)
        self.handed_over += size
        more = self.handed_over < self.total
        return {"type": "http.request", "body": self.chunk[:size], "more_body": more}


async def asgi_call(
    system: LocalSystem, listener: str, path: str, headers: dict[str, str], body: CountingBody
) -> tuple[int, dict[str, str], bytes]:
    """A request straight into the listener's app, as the server would pass it."""
    runtime = system.runtimes[listener.split("-")[0]]
    app = next(server.app for server in runtime.listeners if server.port == system.ports[listener])
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", system.ports[listener]),
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, body.receive, send), 60)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], response_headers, content


@pytest.mark.parametrize(
    ("listener", "path", "content_type", "limit"),
    [
        ("scheduler", "/v1/communities", "application/json", DEFAULT_MAX_BODY_BYTES),
        ("scheduler", "/health/live", "application/json", DEFAULT_MAX_BODY_BYTES),
        ("notifier", "/v1/members/import", "text/csv", IMPORT_LIMIT),
        ("notifier-public", WEBHOOK, "application/json", DEFAULT_MAX_BODY_BYTES),
    ],
)
async def test_a_body_without_a_length_is_read_no_further_than_the_limit(
    system: LocalSystem, listener: str, path: str, content_type: str, limit: int
) -> None:
    chunk = b"[" * 16_384
    body = CountingBody(chunk, total=8 * 1024 * 1024)  # chunked: no Content-Length
    headers = {"Content-Type": content_type}
    if listener in system.tokens:
        headers["Authorization"] = f"Bearer {system.tokens[listener]}"
    status, response_headers, content = await asgi_call(system, listener, path, headers, body)
    assert status == 413, content
    assert response_headers["content-type"] == PROBLEM_JSON
    assert limit < body.handed_over <= limit + len(chunk)


async def test_a_body_announced_too_large_is_not_read_at_all(system: LocalSystem) -> None:
    body = CountingBody(b"x" * 16_384, total=8 * 1024 * 1024)
    headers = {"Content-Type": "application/json", "Content-Length": str(body.total)}
    status, _, _ = await asgi_call(system, "scheduler", "/v1/communities", headers, body)
    assert (status, body.handed_over) == (413, 0)


async def test_probes_answer_while_uploads_stall_halfway(system: LocalSystem) -> None:
    stalled: list[asyncio.StreamWriter] = []
    try:
        for listener, path, content_type, length in (
            ("notifier", "/v1/members/import", "text/csv", IMPORT_LIMIT),
            ("scheduler", "/v1/communities", "application/json", DEFAULT_MAX_BODY_BYTES),
        ):
            _, writer = await asyncio.open_connection("127.0.0.1", system.ports[listener])
            stalled.append(writer)
            headers = {
                "Content-Type": content_type,
                "Content-Length": str(length),
                "Authorization": f"Bearer {system.tokens[listener]}",
            }
            writer.write(request_head("POST", path, headers) + b"[" * (length // 2))
            await writer.drain()  # half the body is sent; the rest never comes
        for listener in system.ports:
            answer = await call(system, listener, "GET", "/health/live")
            assert (listener, answer.status) == (listener, 200)
    finally:
        for writer in stalled:
            writer.close()


async def test_answers_of_the_edge_carry_the_security_headers_of_every_listener(
    system: LocalSystem,
) -> None:
    """A 413 from the headers, a 401 and a 404 never reached a route: they still say nosniff,
    no-store, no framing, and a policy that lets nothing run."""
    for listener, method, path in ROUTES:
        for answer in (
            await call(system, listener, method, path, token="", json_body={}),
            await call(system, listener, "GET", "/no/such/route"),
        ):
            headers = {name.lower(): value for name, value in answer.headers.items()}
            assert headers["x-content-type-options"] == "nosniff", (listener, path)
            assert headers["cache-control"] == "no-store"
            assert headers["x-frame-options"] == "DENY"
            assert headers["content-security-policy"].startswith("default-src 'none'")
    reader, writer = await asyncio.open_connection("127.0.0.1", system.ports["notifier-public"])
    try:
        headers = {"Content-Length": str(HUGE)}
        writer.write(request_head("POST", WEBHOOK, headers))
        await writer.drain()
        status, response_headers, _ = await asyncio.wait_for(read_response(reader), 30)
    finally:
        writer.close()
    assert status == 413
    assert response_headers["x-content-type-options"] == "nosniff"
    assert response_headers["content-security-policy"].startswith("default-src 'none'")
