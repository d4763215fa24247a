"""Requests per second of the HTTP clients an SMS adapter could use.

A trivial aiohttp server (a Twilio-like 201 with a small JSON body) runs in another process on
127.0.0.1; each client then posts Twilio-like forms from 32 concurrent tasks for a few seconds,
after a short warm-up. Same offered load for every client; only the client and its connection
pool change. Not a test: run it by hand, on an otherwise idle machine.

    .venv/bin/python bench/http_clients.py [--seconds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

import aiohttp
import httpx
from aiohttp import web

FORM = {"To": "+447700900123", "From": "+447700900999", "Body": "How was your week? Reply 1-5"}
REPLY = {"sid": "SM" + "0" * 32, "status": "queued"}

PostOnce = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Result:
    client: str
    connections: int
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


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


def wait_until_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def run_for(post: PostOnce, seconds: float, concurrency: int) -> tuple[int, float]:
    """Post from ``concurrency`` tasks until ``seconds`` have passed; (requests, elapsed)."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await post()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


async def measure(
    name: str, connections: int, post: PostOnce, seconds: float, concurrency: int
) -> Result:
    await run_for(post, min(0.5, seconds / 4), concurrency)  # warm the pool up
    requests, elapsed = await run_for(post, seconds, concurrency)
    return Result(name, connections, requests, elapsed)


async def bench_aiohttp(url: str, connections: int, seconds: float, concurrency: int) -> Result:
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> None:
            async with session.post(url, data=FORM) as response:
                await response.read()
                response.raise_for_status()

        return await measure("aiohttp", connections, post, seconds, concurrency)


async def bench_httpx(url: str, connections: int, seconds: float, concurrency: int) -> Result:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def post() -> None:
            response = await client.post(url, data=FORM)
            response.raise_for_status()

        return await measure("httpx", connections, post, seconds, concurrency)


async def run(url: str, seconds: float, concurrency: int) -> list[Result]:
    return [
        await bench_aiohttp(url, 32, seconds, concurrency),
        await bench_httpx(url, 1, seconds, concurrency),
        await bench_httpx(url, 32, seconds, concurrency),
    ]


def table(results: list[Result], concurrency: int) -> str:
    baseline = results[0].per_second
    lines = [
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"httpx {httpx.__version__}, {os.cpu_count()} CPUs, {concurrency} concurrent tasks",
        "",
        f"{'client':<10}{'connections':>12}{'requests':>10}{'requests/s':>12}{'vs aiohttp':>12}",
    ]
    for result in results:
        lines.append(
            f"{result.client:<10}{result.connections:>12}{result.requests:>10}"
            f"{result.per_second:>12,.0f}{result.per_second / baseline:>12.2f}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per client")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent request tasks")
    args = parser.parse_args()

    port = free_port()
    # spawn, not fork: the server must not inherit this process's state (or its event loop).
    server: BaseProcess = multiprocessing.get_context("spawn").Process(
        target=serve, args=(port,), daemon=True
    )
    server.start()
    try:
        wait_until_listening(port)
        results = asyncio.run(
            run(f"http://127.0.0.1:{port}/Messages.json", args.seconds, args.concurrency)
        )
    finally:
        server.terminate()
        server.join(timeout=5)
    sys.stdout.write(table(results, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
