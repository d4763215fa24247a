"""A small asyncio TCP proxy that injects network faults between a service and its peer.

Put it between a process and PostgreSQL or NATS (point the process's URL at ``proxy.port``) and
switch modes while the process runs:

- ``pass_through()``: new connections are forwarded (after ``latency_s``, if set);
- ``reset_all()``: every open connection is aborted with a TCP RST on both sides, as when a
  server or a NAT in between loses the connection's state;
- ``refuse()``: new connections are accepted and reset at once (the peer is down);
- ``blackhole()``: open and new connections are held open but nothing is forwarded in either
  direction, like a partition or a firewall that silently drops packets. What the client sent
  meanwhile is lost, so a held connection never forwards again, even after ``pass_through()``:
  only the client's own timeouts (or ``reset_all()``) get it out, as with a real dropped flow.
  The upstream side of a held connection is closed, so the server frees what it held (locks of
  an open transaction) as it would when the client's keepalives stop.

The proxy never buffers a fault away: data is either forwarded in order or dropped for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
from dataclasses import dataclass, field


class Mode(enum.Enum):
    PASS = "pass"
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"


@dataclass
class ProxyStats:
    accepted: int = 0
    forwarded: int = 0  # connections that reached the upstream
    refused: int = 0
    reset: int = 0
    held: int = 0  # connections blackholed (at accept or later)
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass(eq=False)  # identity: links live in a set
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    held: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


_CHUNK = 64 * 1024


def _abort(writer: asyncio.StreamWriter | None) -> None:
    """Close with an RST rather than a FIN: SO_LINGER on with a zero timeout, then abort."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self._requested_port = port
        self.latency_s = latency_s
        self.mode = Mode.PASS
        self.stats = ProxyStats()
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("proxy not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self._requested_port, reuse_address=True
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset_all()
        # Handlers end on their own once their sockets are aborted; wait so none is left over.
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)
        for task in set(self._handlers):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- faults ---------------------------------------------------------------------------

    def pass_through(self) -> None:
        self.mode = Mode.PASS

    def refuse(self) -> None:
        self.mode = Mode.REFUSE

    def blackhole(self) -> None:
        """Hold every open and new connection; forward nothing."""
        self.mode = Mode.BLACKHOLE
        for link in list(self._links):
            self._hold(link)

    def reset_all(self) -> int:
        """Abort every open connection (RST to the client and to the upstream)."""
        links = list(self._links)
        for link in links:
            _abort(link.client)
            _abort(link.upstream)
            self._links.discard(link)
        self.stats.reset += len(links)
        return len(links)

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # --- plumbing -------------------------------------------------------------------------

    def _hold(self, link: _Link) -> None:
        if link.held:
            return
        link.held = True
        self.stats.held += 1
        _abort(link.upstream)
        link.upstream = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        link = _Link(client=writer)
        if self.mode is Mode.REFUSE:
            self.stats.refused += 1
            _abort(writer)
            return
        self._links.add(link)
        if self.mode is Mode.BLACKHOLE:
            self._hold(link)
        else:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                self._links.discard(link)
                _abort(writer)
                return
            if link not in self._links:  # reset while connecting upstream
                _abort(up_writer)
                return
            if link.held:  # blackholed while connecting upstream: never forward
                _abort(up_writer)
            else:
                link.upstream = up_writer
                self.stats.forwarded += 1
                link.tasks.append(asyncio.create_task(self._pump(link, up_reader, writer, False)))
        # The client side is read until it goes away, forwarded or dropped.
        try:
            await self._pump(link, reader, None, True)
        finally:
            for task in link.tasks:
                task.cancel()
            if link in self._links:
                self._links.discard(link)
                _abort(link.upstream)
                _abort(link.client)

    async def _pump(
        self,
        link: _Link,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter | None,
        upward: bool,
    ) -> None:
        """Copy ``source`` to the other side of ``link``, in order, each chunk after the latency.

        A reader queues (deliver-at, chunk) and a writer delivers, so latency delays data
        without limiting throughput to one chunk per latency.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                try:
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    target = link.upstream if upward else sink
                    # Held or gone: dropped for good (a blackhole forwards nothing, ever).
                    if not link.held and target is not None and not target.transport.is_closing():
                        target.write(chunk)
                        with contextlib.suppress(ConnectionError, OSError):
                            await target.drain()
                finally:
                    queue.task_done()

        writer_task = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    chunk = await source.read(_CHUNK)
                except (ConnectionError, OSError):
                    break
                if not chunk:
                    break
                if link.held:
                    continue
                if upward:
                    self.stats.bytes_up += len(chunk)
                else:
                    self.stats.bytes_down += len(chunk)
                queue.put_nowait((loop.time() + self.latency_s, chunk))
            # End of stream: let what was already sent arrive, then pass the close on.
            await queue.join()
            if not link.held:
                _close(link.upstream if upward else link.client)
        finally:
            writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer_task


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None and not writer.transport.is_closing():
        writer.close()
