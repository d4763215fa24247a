"""``http_clients``: requests per second of the HTTP client the SMS adapters use (aiohttp, 32
pooled connections), against httpx with the same pool.

A trivial aiohttp server (a Twilio-like 201 with a small JSON body) runs in another process on
127.0.0.1; each client then posts Twilio-like forms from 32 concurrent tasks for a few seconds
(2 s, ``--quick``: 0.5 s), after a short warm-up. Same offered load for every client; only the
client changes. httpx with a single connection is kept in results.json. This is why
``services/notifier/adapters/sms/http_client.py`` uses aiohttp.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable
from multiprocessing.process import BaseProcess

import aiohttp
import httpx
from aiohttp import web

from bench.harness import Options, Run, Scenario

FORM = {"To": "+447700900123", "From": "+447700900999", "Body": "How was your week? Reply 1-5"}
REPLY = {"sid": "SM" + "0" * 32, "status": "queued"}
CONCURRENCY = 32

PostOnce = Callable[[], Awaitable[None]]


def serve(port: int) -> None:
    """The server process: one aiohttp app, no access log."""

    async def create_message(request: web.Request) -> web.Response:
        await request.post()
        return web.json_response(REPLY, status=201)

    app = web.Application()
    app.router.add_post("/Messages.json", create_message)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


async def requests_per_s(post: PostOnce, seconds: float) -> float:
    """Post from ``CONCURRENCY`` tasks for ``seconds`` after a warm-up of the pool."""

    async def for_(duration: float) -> tuple[int, float]:
        done = 0
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await post()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return done, time.perf_counter() - started

    await for_(min(0.5, seconds / 4))
    done, elapsed = await for_(seconds)
    return done / elapsed


async def with_aiohttp(url: str, connections: int, seconds: float) -> float:
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> None:
            async with session.post(url, data=FORM) as response:
                await response.read()
                response.raise_for_status()

        return await requests_per_s(post, seconds)


async def with_httpx(url: str, connections: int, seconds: float) -> float:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def post() -> None:
            response = await client.post(url, data=FORM)
            response.raise_for_status()

        return await requests_per_s(post, seconds)


def scenarios(options: Options) -> list[Scenario]:
    seconds = 0.5 if options.quick else 2.0

    async def seed() -> tuple[BaseProcess, str]:
        port = free_port()
        # spawn, not fork: the server must not inherit this process's state or event loop.
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(port,), daemon=True
        )
        server.start()
        await wait_until_listening(port)
        return server, f"http://127.0.0.1:{port}/Messages.json"

    async def measure(seeded: tuple[BaseProcess, str]) -> Run:
        _, url = seeded
        return Run(
            await with_aiohttp(url, 32, seconds),
            await with_httpx(url, 32, seconds),
            details={"httpx_one_connection": await with_httpx(url, 1, seconds)},
        )

    async def cleanup(seeded: tuple[BaseProcess, str] | None) -> None:
        if seeded is not None:
            server, _ = seeded
            server.terminate()
            server.join(timeout=5)

    return [
        Scenario(
            "http_clients",
            "requests/s",
            None,
            measure,
            seed,
            cleanup,
            note="aiohttp, 32 connections; baseline httpx, 32 connections",
            component=True,
        )
    ]
