"""Renders per second of one prompt template in-process vs through the render workers.

The same template (the packaged check-in, e-mail and SMS, English) and the same sample
context are rendered as a packaged default (in-process, on the event loop) and as an
operator's stored copy (in a render worker: pickled, piped, rendered, answered as JSON),
one render at a time and from as many tasks as there are workers. Workers are started and
warmed up before measuring. The ratio is what decides whether the packaged defaults should
go through the pool too. Not a test: run it by hand, on an otherwise idle machine.

    .venv/bin/python bench/template_render.py [--seconds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from services.notifier.templating import (
    InMemoryStoredTemplates,
    Origin,
    PromptContext,
    PromptRenderer,
    RenderLimits,
    RenderPool,
    ResolvedTemplate,
)
from services.notifier.templating.samples import sample_context

RenderOnce = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Result:
    how: str
    channel: str
    tasks: int
    renders: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.renders / self.seconds


async def run_for(render: RenderOnce, seconds: float, tasks: int) -> tuple[int, float]:
    """Render from ``tasks`` tasks until ``seconds`` have passed; (renders, elapsed)."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await render()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    return done, time.perf_counter() - started


async def measure(how: str, channel: str, render: RenderOnce, seconds: float, tasks: int) -> Result:
    await run_for(render, min(0.5, seconds / 4), tasks)  # workers started and caches warm
    renders, elapsed = await run_for(render, seconds, tasks)
    return Result(how, channel, tasks, renders, elapsed)


def renders(renderer: PromptRenderer, template: ResolvedTemplate, ctx: PromptContext) -> RenderOnce:
    async def render() -> object:
        if template.channel == "sms":
            return await renderer.render_sms_source(template, ctx)
        return await renderer.render_email_source(template, ctx)

    return render


async def run(seconds: float, workers: int) -> list[Result]:
    pool = RenderPool(RenderLimits(workers=workers))
    renderer = PromptRenderer(InMemoryStoredTemplates(), pool=pool)
    ctx = sample_context("check_in", "en")
    results = []
    try:
        for channel in ("email", "sms"):
            packaged, _ = await renderer.template_for("check_in", ctx, channel)
            # The same source as an operator's copy: rendered in a worker.
            stored = replace(packaged, origin=Origin.stored, version=1)
            in_process, in_pool = renders(renderer, packaged, ctx), renders(renderer, stored, ctx)
            results.append(await measure("in-process", channel, in_process, seconds, 1))
            results.append(await measure("pool", channel, in_pool, seconds, 1))
            results.append(await measure("pool", channel, in_pool, seconds, workers))
    finally:
        await pool.close()
    return results


def table(results: list[Result], workers: int) -> str:
    lines = [
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {workers} render workers",
        "",
        f"{'how':<12}{'channel':>8}{'tasks':>7}{'renders':>9}{'renders/s':>11}"
        f"{'vs in-process':>15}",
    ]
    baseline: dict[str, float] = {}
    for result in results:
        baseline.setdefault(result.channel, result.per_second)
        lines.append(
            f"{result.how:<12}{result.channel:>8}{result.tasks:>7}{result.renders:>9}"
            f"{result.per_second:>11,.0f}{result.per_second / baseline[result.channel]:>15.2f}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per row")
    parser.add_argument("--workers", type=int, default=2, help="render worker processes")
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.workers))
    sys.stdout.write(table(results, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
