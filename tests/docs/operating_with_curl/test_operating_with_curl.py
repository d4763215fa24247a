"""README's "Operating with curl", run as written: its shell blocks go, unchanged, to one bash
session (as the reader's terminal) against the three services on free ports, with the base URLs
and tokens in the environment variables the blocks read; every command must succeed and print
what README shows under it. Between the blocks the clock moves past the first Monday 09:00 in
London and in New York, as the prose between them says."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.demo.system import LocalSystem
from services.notifier.settings import NotifierSettings
from services.scheduler.settings import SchedulerSettings
from tests.docs.operating_with_curl.readme_blocks import (
    Step,
    overridable,
    section,
    shell_blocks,
    steps,
    unmatched,
)
from tests.support import eventually

HEADING = "Operating with curl"
RITUAL = "riverside-checkin"
LONDON_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA_NUDGE = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)  # two hours later: nudge_after_minutes 120
NEW_YORK_0900 = datetime(2027, 1, 4, 14, 0, tzinfo=UTC)
SETTINGS = ("SCHEDULER", "NOTIFIER", "NATS", "SCHEDULER_OPERATOR_TOKEN", "NOTIFIER_OPERATOR_TOKEN")
HANG_GUARD_S = 60.0  # a command that never returns, not a speed limit


class Shell:
    """One bash session: what a block sets (ids, files) is there for the next one."""

    def __init__(self, workdir: Path, environment: dict[str, str]) -> None:
        self.workdir = workdir
        self.environment = environment
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Shell:
        self.process = await asyncio.create_subprocess_exec(
            "bash",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.workdir,
            env=self.environment,
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.process is not None
        assert self.process.stdin is not None
        if self.process.returncode is None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), HANG_GUARD_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def run(self, name: str, block: list[Step]) -> list[str]:
        """Each step's output (stdout and stderr); fails naming the step that failed."""
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        script = ["set -euo pipefail"]
        for number, step in enumerate(block):
            script += [f"printf '\\n@@step {number}@@\\n'", step.commands]
        script.append(f"printf '\\n@@{name} done@@\\n'")
        path = self.workdir / f"{name}.sh"
        path.write_text("\n".join(script) + "\n", encoding="utf-8")
        self.process.stdin.write(f"source {path}\n".encode())
        await self.process.stdin.drain()
        outputs: list[list[str]] = []
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), HANG_GUARD_S)
            text = line.decode().rstrip("\n")
            if text == f"@@{name} done@@":
                return ["\n".join(lines) for lines in outputs]
            if not line:
                failed = block[len(outputs) - 1].commands if outputs else "(before any step)"
                printed = "\n".join(outputs[-1]) if outputs else ""
                pytest.fail(f"README's command failed:\n{failed}\nit printed:\n{printed}")
            if text.startswith("@@step "):
                outputs.append([])
            elif outputs:
                outputs[-1].append(text)


def walkthrough() -> list[list[Step]]:
    return [steps(block) for block in shell_blocks(section(HEADING))]


def check_excerpts(block: list[Step], outputs: list[str]) -> int:
    assert len(outputs) == len(block)
    for step, output in zip(block, outputs, strict=True):
        missing = unmatched(step.excerpt, output)
        assert missing is None, (
            f"README shows {missing!r} under\n{step.commands}\nbut it printed:\n{output}"
        )
    return sum(1 for step in block if step.excerpt)


def test_the_walkthrough_is_two_blocks_whose_defaults_are_the_dev_settings() -> None:
    blocks = shell_blocks(section(HEADING))
    assert len(blocks) == 2
    defaults = overridable(blocks[0])
    assert set(defaults) == set(SETTINGS)
    for name, settings in (
        ("SCHEDULER_OPERATOR_TOKEN", SchedulerSettings),
        ("NOTIFIER_OPERATOR_TOKEN", NotifierSettings),
    ):
        default = settings.model_fields["operator_token"].get_default()
        assert defaults[name] == default.get_secret_value(), name
    assert sum(1 for step in steps(blocks[0]) + steps(blocks[1]) if step.excerpt) >= 12


def test_an_excerpt_matches_in_order_with_gaps_and_spacing() -> None:
    output = '{"id":"mbr_x1","email":"ana@example.org","locale":"en"}'
    assert unmatched(('{"id": "mbr_…", "locale": "en"}',), output) is None
    assert unmatched(('"locale": "en"…"id":',), output) == '"id":'  # out of order
    assert unmatched(('"locale":"es"',), output) == '"locale":"es"'


async def sent(system: LocalSystem) -> list[dict[str, object]]:
    notifier = system.clients["notifier"]
    return await notifier.get_all("/v1/deliveries", ritual_id=RITUAL, status="sent")


async def nudge_timers(system: LocalSystem) -> list[dict[str, object]]:
    return await system.clients["scheduler"].get_all(f"/v1/rituals/{RITUAL}/nudge-timers")


async def test_the_walkthrough_runs_as_written(system: LocalSystem, tmp_path: Path) -> None:
    setup, afterwards = walkthrough()
    workdir = tmp_path / "operator"
    workdir.mkdir()
    environment = {
        **{name: value for name, value in os.environ.items() if name not in SETTINGS},
        # The rituals command of this interpreter's environment, as installed by make.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SCHEDULER": system.url("scheduler"),
        "NOTIFIER": system.url("notifier"),
        "NATS": system.nats.url,
        "SCHEDULER_OPERATOR_TOKEN": system.tokens["scheduler"],
        "NOTIFIER_OPERATOR_TOKEN": system.tokens["notifier"],
    }
    async with Shell(workdir, environment) as shell:
        excerpts = check_excerpts(setup, await shell.run("setup", setup))

        # The Mondays pass as they would in real time: London's prompt, its nudge two hours
        # later (the prompt unanswered), then New York's.
        await system.advance_to(LONDON_0900)
        await eventually(lambda: nudge_timers(system))
        await system.advance_to(ANA_NUDGE)
        await eventually(lambda: sent_count(system, 2))
        await system.advance_to(NEW_YORK_0900)
        await eventually(lambda: sent_count(system, 4))

        excerpts += check_excerpts(afterwards, await shell.run("afterwards", afterwards))
    assert excerpts >= 12


async def sent_count(system: LocalSystem, count: int) -> bool:
    return len(await sent(system)) >= count
