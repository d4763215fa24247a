"""Each service starts with ``python -m services.<name>``, becomes ready, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from services.demo.system import DatabaseFor
from shared.natsdev import EmbeddedNatsServer, free_port
from tests.fault.support import probe
from tests.support import eventually


async def _start_until_ready(
    service: str, nats_url: str, database_for: DatabaseFor, tmp_path: Path
) -> asyncio.subprocess.Process:
    url, schema = database_for(service)
    port = free_port()
    prefix = service.upper()
    env = {
        **os.environ,
        f"{prefix}_ENVIRONMENT": "dev",
        f"{prefix}_NATS_URL": nats_url,
        f"{prefix}_DATABASE_URL": url,
        f"{prefix}_HTTP_HOST": "127.0.0.1",
        f"{prefix}_HTTP_PORT": str(port),
    }
    if schema:
        env[f"{prefix}_DATABASE_SCHEMA"] = schema
    other_listener = {"notifier": "PUBLIC_HTTP_PORT", "insights": "ANALYST_HTTP_PORT"}
    if service in other_listener:  # never the default port: others may hold it
        env[f"{prefix}_{other_listener[service]}"] = str(free_port())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"services.{service}",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with aiohttp.ClientSession() as http:

        async def ready() -> bool:
            answer = await probe(http, f"http://127.0.0.1:{port}/health/ready", 5)
            return answer.status == 200

        try:
            await eventually(ready, timeout_s=30)
        except AssertionError:
            process.kill()
            raise
    return process


async def _stopped_by_sigterm(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """The exit status and everything the process printed."""
    process.send_signal(signal.SIGTERM)
    try:
        printed, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, printed.decode(errors="replace")


@pytest.mark.parametrize("service", ["scheduler", "notifier", "insights"])
async def test_service_serves_until_sigterm(
    service: str, nats_server: EmbeddedNatsServer, database_for: DatabaseFor, tmp_path: Path
) -> None:
    process = await _start_until_ready(service, nats_server.url, database_for, tmp_path)
    status, printed = await _stopped_by_sigterm(process)
    assert status == 0, printed


async def test_a_service_whose_nats_is_gone_still_stops_cleanly_on_sigterm(
    database_for: DatabaseFor, tmp_path: Path
) -> None:
    """A pod replaced while NATS is down: nothing to drain into, so it says so and exits 0
    (what was not acknowledged is redelivered), instead of a traceback and status 1."""
    own_nats = EmbeddedNatsServer(tmp_path / "nats")
    await own_nats.start()
    try:
        process = await _start_until_ready("notifier", own_nats.url, database_for, tmp_path)
    finally:
        await own_nats.close()
    status, printed = await _stopped_by_sigterm(process)
    assert status == 0, printed
    assert "Traceback" not in printed
    assert "NATS unreachable while stopping" in printed


async def test_outside_dev_placeholder_secrets_stop_the_service_at_start(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INSIGHTS_ENVIRONMENT": "prod",
        "INSIGHTS_DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1:1/x",
    }
    env.pop("INSIGHTS_ANALYST_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.insights",
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode != 0
    assert b"INSIGHTS_ANALYST_TOKEN must be a real secret" in stderr
