"""A scheduler replica (ours or APScheduler) in a process of its own, driven line by line.

Each replica runs as production runs it, a process per replica, so the bench measures what it
would cost there and reads each one's peak resident memory (``VmHWM``, the kernel's high-water
mark) apart from the bench's own. The child prints ``ready`` once started, then answers the
commands it is sent on stdin, one line each; end of input ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


class ChildProcess:
    def __init__(self, process: asyncio.subprocess.Process, name: str, log: IO[bytes]) -> None:
        self._process = process
        self.name = name
        # The child's stderr (its log), read after it stopped: none of it in the bench's output
        # unless the scenario decides it matters.
        self._log = log

    @classmethod
    async def start(
        cls, module: str, arguments: list[str], name: str, timeout_s: float = 120.0
    ) -> ChildProcess:
        """``python -m module arguments`` from the repository's root, until it says ``ready``."""
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *arguments,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        child = cls(process, name, log)
        try:
            await child.expect("ready", timeout_s)
        except BaseException:
            print(await child.stop(), file=sys.stderr)
            raise
        return child

    async def send(self, command: str) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(f"{command}\n".encode())
        await stdin.drain()

    async def read_line(self, timeout_s: float) -> str:
        stdout = self._process.stdout
        assert stdout is not None
        line = await asyncio.wait_for(stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"{self.name} exited with {await self._process.wait()}")
        return line.decode().strip()

    async def expect(self, word: str, timeout_s: float) -> list[str]:
        """The next line, which must start with ``word``; its other fields."""
        fields = (await self.read_line(timeout_s)).split()
        if not fields or fields[0] != word:
            raise RuntimeError(f"{self.name} said {' '.join(fields)!r}, expected {word!r}")
        return fields[1:]

    def rss_peak_mb(self) -> float:
        """The process's peak resident set size so far (MiB)."""
        status = Path(f"/proc/{self._process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    async def stop(self, timeout_s: float = 20.0) -> str:
        """End the child; its log (stderr)."""
        if self._process.returncode is None:
            await self._end(timeout_s)
        if self._log.closed:
            return ""
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        self._log.close()
        return text

    async def _end(self, timeout_s: float) -> None:
        stdin = self._process.stdin
        if stdin is not None:
            # End of input is the child's ``stop``; it also ends its blocking stdin reader.
            stdin.close()
            with contextlib.suppress(ConnectionError):
                await stdin.wait_closed()
        try:
            await asyncio.wait_for(self._process.wait(), timeout_s)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


async def commands() -> asyncio.Queue[str]:
    """In a child: the lines arriving on stdin, ``stop`` at end of input."""
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def read() -> None:
        while line := await asyncio.to_thread(sys.stdin.readline):
            await queue.put(line.strip())
        await queue.put("stop")

    # Kept referenced by the queue's owner for the life of the process.
    _readers.append(asyncio.create_task(read()))
    return queue


_readers: list[asyncio.Task[None]] = []


def say(*fields: object) -> None:
    """In a child: one line to the bench."""
    print(*fields, flush=True)
