"""``template_render_email`` and ``template_render_sms``: renders per second of one prompt
template through the render workers, against rendering it in-process.

The same template (the packaged check-in, English) and the same sample context are rendered as
a packaged default (in-process, on the event loop: the baseline, one task) and as an
operator's stored copy (in a render worker: pickled, piped, rendered, answered as JSON: the
value, from as many tasks as there are workers). Workers are started and warmed up once, before
the first repetition. The ratio is what decides whether the packaged defaults should go
through the pool too. 2 s a row (``--quick``: 0.5 s); 2 workers, the notifier's default here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bench.harness import Companion, Options, Run, Scenario
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

WORKERS = 2
RenderOnce = Callable[[], Awaitable[object]]


async def renders_per_s(render: RenderOnce, seconds: float, tasks: int) -> float:
    """Render from ``tasks`` tasks until ``seconds`` have passed."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await render()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    return done / (time.perf_counter() - started)


def render_once(
    renderer: PromptRenderer, template: ResolvedTemplate, ctx: PromptContext
) -> RenderOnce:
    async def render() -> object:
        if template.channel == "sms":
            return await renderer.render_sms_source(template, ctx)
        return await renderer.render_email_source(template, ctx)

    return render


@dataclass
class Renderers:
    pool: RenderPool
    # Per channel: (in-process, in a worker).
    by_channel: dict[str, tuple[RenderOnce, RenderOnce]]


def scenarios(options: Options) -> list[Scenario]:
    seconds = 0.5 if options.quick else 2.0

    async def seed() -> Renderers:
        pool = RenderPool(RenderLimits(workers=WORKERS))
        renderer = PromptRenderer(InMemoryStoredTemplates(), pool=pool)
        ctx = sample_context("check_in", "en")
        by_channel = {}
        for channel in ("email", "sms"):
            packaged, _ = await renderer.template_for("check_in", ctx, channel)
            stored = replace(packaged, origin=Origin.stored, version=1)
            by_channel[channel] = (
                render_once(renderer, packaged, ctx),
                render_once(renderer, stored, ctx),
            )
            # Workers started and caches warm before anything is measured.
            await renders_per_s(by_channel[channel][1], 0.5, WORKERS)
        return Renderers(pool, by_channel)

    async def one(renderers: Renderers, channel: str) -> Run:
        in_process, in_pool = renderers.by_channel[channel]
        return Run(
            await renders_per_s(in_pool, seconds, WORKERS),
            await renders_per_s(in_process, seconds, 1),
            details={"pool_one_task": await renders_per_s(in_pool, seconds, 1)},
        )

    async def measure(renderers: Renderers) -> Run:
        email = await one(renderers, "email")
        email.companions["template_render_sms"] = await one(renderers, "sms")
        return email

    async def cleanup(renderers: Renderers | None) -> None:
        if renderers is not None:
            await renderers.pool.close()

    return [
        Scenario(
            "template_render_email",
            "renders/s",
            None,
            measure,
            seed,
            cleanup,
            note=f"stored template in {WORKERS} workers; baseline packaged, in-process",
            companions=(Companion("template_render_sms", "renders/s"),),
            component=True,
        )
    ]
