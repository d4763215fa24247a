"""uvicorn embedded in a service's own event loop, next to its broker and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service runtime owns signals and stops the server itself.
        yield

    async def main_loop(self) -> None:
        """uvicorn's loop (``on_tick`` every 0.1 s: the Date header, the exit check), except
        that ``exit_now`` ends its wait at once: a stop no longer waits for the next tick, a
        tenth of a second per listener, paid at every service stop and test teardown."""
        self.exit_now = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_now.wait(), 0.1)

    def request_exit(self) -> None:
        self.should_exit = True
        exit_now: asyncio.Event | None = getattr(self, "exit_now", None)
        if exit_now is not None:
            exit_now.set()


class HttpServer:
    """One listener: an app on a port. A service runs one per audience."""

    def __init__(self, app: FastAPI, host: str, port: int, name: str = "api") -> None:
        self.name = name
        self.app = app
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off")
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot listen (a port taken): raised from a
            # task, SystemExit would stop the whole event loop. Say which listener instead.
            raise OSError(f"the {self.name} listener could not start") from None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the startup error
                raise RuntimeError("HTTP server stopped during startup")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("HTTP server is not listening")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.request_exit()
        await self._task
        self._task = None
