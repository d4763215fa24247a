"""A demo run, as ``rituals demo`` runs it (its own process, its own logging set-up), with a
smaller synthetic community and the services' INFO lines: every line on stderr is a JSON
object, from the services and from uvicorn, alembic and FastStream alike, with no ERROR and
nothing personal; stdout is the narrative, as readable as before."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from services.demo.run import PEOPLE
from tests.integration.observability.logs.conftest import json_lines

RUN_DEMO = """
import sys
from services.demo.crowd import CrowdShape
from services.demo.run import DemoConfig, main
shape = CrowdShape(size=130, community_id="meadowbank")
sys.exit(main(config=DemoConfig(crowd=shape), log_level="INFO"))
"""


@pytest.mark.timeout(900)
async def test_every_log_line_of_a_demo_run_is_json(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_DEMO,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=840)
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 0, stdout[-2000:] + stderr[-2000:]

    entries = json_lines(stderr)  # raises on the first line that is not JSON
    loggers = {entry["logger"] for entry in entries}
    assert {"shared.runtime", "uvicorn.error", "alembic.runtime.migration"} <= loggers
    assert {entry["service"] for entry in entries} == {"demo"}
    assert [e for e in entries if e["level"] in ("ERROR", "CRITICAL")] == []

    # The narrative: plain text on stdout, none of it log lines.
    assert "Demo complete" in stdout
    assert "Indicators released for 2027-P01" in stdout
    assert not any(line.startswith("{") for line in stdout.splitlines())

    # Names are the narrative's; addresses and numbers are in neither stream's log lines.
    personal = [p.email for p in PEOPLE] + [p.phone for p in PEOPLE if p.phone]
    assert [p for p in personal if p in stderr] == []
