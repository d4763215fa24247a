from __future__ import annotations

import asyncio
import socket

import pytest
from fastapi import FastAPI

from shared.http.server import HttpServer
from shared.natsdev import free_port


async def test_a_listener_that_cannot_bind_fails_its_start_and_leaves_the_loop_running() -> None:
    """uvicorn exits the process when its port is taken; that SystemExit, raised in a task,
    used to stop the event loop (every test after it failed at setup)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="operators listener could not start"):
            await HttpServer(FastAPI(), "127.0.0.1", port, "operators").start()
    assert await asyncio.sleep(0, "still running") == "still running"


def test_free_ports_are_not_handed_out_twice() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
