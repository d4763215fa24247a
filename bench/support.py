"""What several scenarios share: helper processes, fresh PostgreSQL schemas, waiting, memory.

Nothing here runs at import time; each scenario module calls what it needs.
"""

from __future__ import annotations

import asyncio
import re
import resource
import sys
import time
import uuid
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from sqlalchemy import text

from shared.db import create_engine

BENCH = Path(__file__).resolve().parent
_PEAK = re.compile(r"^VmHWM:\s+(\d+)\s+kB", re.MULTILINE)


def new_schema(prefix: str = "bench") -> str:
    """A schema name no other run (or other agent's run) on the same server uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def drop_schemas(url: str, schemas: list[str]) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        for schema in schemas:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def until(
    probe: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 600, every_s: float = 0.05
) -> None:
    deadline = time.perf_counter() + timeout_s
    while not await probe():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(every_s)


# Helper processes ------------------------------------------------------------------------
# A provider (SMTP, Twilio-like) never runs in the notifier's process: in the bench's process
# its parsing of every message would take the notifier's CPU.


@asynccontextmanager
async def helper_process(script: str, *arguments: str) -> AsyncIterator[Process]:
    """``bench/<script>`` in a process of its own; it serves until its stdin closes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH / script),
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            await finish(process)


async def read_line(process: Process) -> str:
    assert process.stdout is not None
    return (await process.stdout.readline()).decode().strip()


async def say(process: Process, line: str) -> str:
    """Send one command line to a helper; its one-line answer."""
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())
    await process.stdin.drain()
    return await read_line(process)


async def finish(process: Process) -> int:
    """Close the helper's stdin; what it printed last (the sinks: messages received)."""
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.close()
    last = (await process.stdout.read()).decode().split()
    await process.wait()
    return int(last[-1]) if last and last[-1].isdigit() else 0


# Memory ----------------------------------------------------------------------------------
# The services a scenario starts run in the bench's own process (LocalSystem), so a service's
# peak is this process's peak while only that service ran: reset the kernel's high-water mark
# before the repetition, read it after. Imports and the bench's own data are included: an
# upper bound for the service.


def reset_peak_rss() -> None:
    """Start a new high-water mark (Linux: writing 5 to clear_refs resets VmHWM)."""
    # Not Linux, or not allowed: the peak is then the process's lifetime peak.
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        found = _PEAK.search(Path("/proc/self/status").read_text())
    except OSError:
        found = None
    if found is not None:
        return int(found.group(1)) / 1024
    # ru_maxrss: kilobytes on Linux, the lifetime peak.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
