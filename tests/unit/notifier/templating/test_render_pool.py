"""Operators' templates render in worker processes: a render past its deadline or its memory
cap fails as a template problem, its worker is replaced, and the next render works; the
packaged defaults render in-process. Deadlines and caps are set small, through the limits,
and loosened sandbox budgets let a template reach them: these tests are about the backstop."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from services.notifier.templating import (
    InMemoryStoredTemplates,
    PromptContext,
    PromptRenderer,
    RenderLimits,
    RenderPool,
    TemplateOverrun,
    TemplateProblem,
    worker,
)
from services.notifier.templating.jobs import Sandboxes
from services.notifier.templating.samples import sample_context, sample_contexts
from services.notifier.templating.sandbox import SandboxLimits
from shared.clock import ManualClock
from tests.support import eventually
from tests.unit.notifier.templating.conftest import NOW

PoolWith = Callable[..., RenderPool]

# Seconds of work on every sample once the operation budget is out of the way.
SLOW = (
    "{% for i in range(90) %}{% for j in range(20) %}"
    "{% if ('x' * 4000)|wordwrap(1)|length < 0 %}!{% endif %}"
    "{% endfor %}{% endfor %}"
)
# Some 300 MB of text, once the value-size limit is out of the way.
HUNGRY = "{{ ('x' * 10000 * 10000 * 3)|length }}"
UNBUDGETED = SandboxLimits(max_operations=10**12, max_value_chars=10**9)
FAST = RenderLimits(
    sandbox=UNBUDGETED,
    workers=1,
    worker_memory_mb=64,
    render_timeout_s=0.5,
    validation_timeout_s=0.5,
)


async def _stored_renderer(
    pool: RenderPool, body: str
) -> tuple[PromptRenderer, InMemoryStoredTemplates]:
    store = InMemoryStoredTemplates()
    await _put(store, body)
    return PromptRenderer(store, pool=pool), store


async def _put(store: InMemoryStoredTemplates, body: str) -> None:
    await store.put("reach_out", "en", "sms", subject=None, text_body=body, html_body=None, now=NOW)


async def _render(renderer: PromptRenderer) -> str:
    return (await renderer.render_sms("reach_out", sample_context("reach_out", "en"))).text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(SLOW, "took too long to render \\(more than 0.5 s\\)", id="slow"),
        pytest.param(HUNGRY, "used too much memory", id="hungry"),
    ],
)
async def test_an_overrun_at_save_is_refused_with_the_reason(
    pool_with: PoolWith, body: str, reason: str
) -> None:
    renderer = PromptRenderer(InMemoryStoredTemplates(), pool=pool_with(FAST))
    with pytest.raises(TemplateOverrun, match=f"draft template reach_out/en/sms: {reason}"):
        await renderer.validate("reach_out", "en", "sms", None, body, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(SLOW, "took too long to render", id="slow"),
        pytest.param(HUNGRY, "used too much memory", id="hungry"),
    ],
)
async def test_an_overrun_fails_that_prompt_and_the_next_render_works(
    pool_with: PoolWith, body: str, reason: str
) -> None:
    pool = pool_with(FAST)
    renderer, store = await _stored_renderer(pool, "Warm-up STOP")
    assert await _render(renderer) == "Warm-up STOP"
    (first_worker,) = pool.pids
    await _put(store, body)
    with pytest.raises(TemplateOverrun, match=f"stored template reach_out/en/sms: {reason}"):
        await _render(renderer)
    assert first_worker not in pool.pids  # killed (or retired), not reused
    await _put(store, "Hi STOP")
    assert await _render(renderer) == "Hi STOP"
    (replacement,) = pool.pids
    assert replacement != first_worker


async def test_a_template_that_overran_fails_at_once_for_a_while(pool_with: PoolWith) -> None:
    clock = ManualClock(NOW)
    pool = pool_with(replace(FAST, overrun_quarantine_s=60), clock)
    renderer, store = await _stored_renderer(pool, HUNGRY)
    with pytest.raises(TemplateOverrun, match="used too much memory"):
        await _render(renderer)
    await _put(store, "Hi STOP")
    assert await _render(renderer) == "Hi STOP"
    (idle,) = pool.pids
    await _put(store, HUNGRY)
    # Refused without the idle worker (or a new one): other prompts keep it.
    with pytest.raises(TemplateOverrun, match="stored template reach_out/en/sms: used too much"):
        await _render(renderer)
    assert (pool.pids, pool.started) == (frozenset({idle}), 2)
    clock.advance(timedelta(seconds=60))
    with pytest.raises(TemplateOverrun, match="used too much memory"):
        await _render(renderer)
    assert idle not in pool.pids  # rendered again, and its worker retired


async def test_a_worker_that_dies_mid_render_fails_that_render_only(pool_with: PoolWith) -> None:
    pool = pool_with(FAST)
    renderer, store = await _stored_renderer(pool, SLOW)
    render = asyncio.create_task(_render(renderer))
    await eventually(lambda: pool.busy == 1 and pool.pids)
    (pid,) = pool.pids
    os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer would do
    with pytest.raises(TemplateOverrun, match="its render worker stopped"):
        await render
    await _put(store, "Hi STOP")
    assert await _render(renderer) == "Hi STOP"


async def test_a_render_given_up_by_its_caller_does_not_keep_its_worker(
    pool_with: PoolWith,
) -> None:
    pool = pool_with(RenderLimits(sandbox=UNBUDGETED, workers=1, render_timeout_s=30))
    renderer, store = await _stored_renderer(pool, SLOW)
    render = asyncio.create_task(_render(renderer))
    await eventually(lambda: pool.busy == 1 and pool.pids)
    (pid,) = pool.pids
    render.cancel()
    with pytest.raises(asyncio.CancelledError):
        await render
    assert pool.pids == frozenset()
    assert pool.busy == 0
    await _put(store, "Hi STOP")
    assert await _render(renderer) == "Hi STOP"
    assert pid not in pool.pids


async def test_while_a_hostile_render_runs_the_event_loop_and_other_workers_serve(
    pool_with: PoolWith,
) -> None:
    pool = pool_with(RenderLimits(sandbox=UNBUDGETED, workers=2, render_timeout_s=30))
    hostile, _ = await _stored_renderer(pool, SLOW)
    sound, _ = await _stored_renderer(pool, "Hi STOP")
    slow = asyncio.create_task(_render(hostile))
    await eventually(lambda: pool.busy == 1)
    # The loop is free (this test runs on it), and the second worker renders meanwhile.
    assert await _render(sound) == "Hi STOP"
    assert not slow.done()
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


async def test_more_renders_than_workers_wait_their_turn(pool_with: PoolWith) -> None:
    pool = pool_with(RenderLimits(workers=1))
    renderer, _ = await _stored_renderer(pool, "{{ kind }} STOP")
    texts = await asyncio.gather(*(_render(renderer) for _ in range(5)))
    assert texts == ["reach_out STOP"] * 5
    assert len(pool.pids) == 1


async def test_a_refusal_in_a_worker_keeps_the_worker(pool_with: PoolWith) -> None:
    pool = pool_with(RenderLimits(workers=1))
    renderer, _ = await _stored_renderer(pool, "{{ nobody }}")
    with pytest.raises(TemplateProblem, match="'nobody' is undefined") as caught:
        await _render(renderer)
    assert not isinstance(caught.value, TemplateOverrun)
    (pid,) = pool.pids
    with pytest.raises(TemplateProblem):
        await _render(renderer)
    assert pool.pids == {pid}


async def test_the_packaged_defaults_render_in_process(pool_with: PoolWith) -> None:
    pool = pool_with(RenderLimits())
    renderer = PromptRenderer(InMemoryStoredTemplates(), pool=pool)
    email = await renderer.render_email("check_in", sample_context("check_in", "en"))
    assert email.subject
    assert pool.pids == frozenset()  # no worker was needed


async def test_a_renderer_without_a_pool_makes_and_closes_its_own() -> None:
    renderer = PromptRenderer(InMemoryStoredTemplates(), limits=SandboxLimits(max_iterations=5))
    with pytest.raises(TemplateProblem, match="loops too often"):
        await renderer.validate(
            "reach_out", "en", "sms", None, "{% for i in range(9) %}.{% endfor %}", None
        )
    await renderer.close()
    with pytest.raises(RuntimeError, match="closed"):
        await renderer.validate("reach_out", "en", "sms", None, "Hi STOP", None)


def test_a_job_a_worker_cannot_run_is_answered_and_the_worker_retired() -> None:
    answer = worker.answer(Sandboxes.with_limits(SandboxLimits()), pickle.dumps("not a job"))
    assert answer == {
        "problem": "template: TypeError while rendering",
        "overrun": False,
        "retire": True,
    }


def test_the_first_few_samples_vary_the_module_week_and_the_nudge() -> None:
    everything = sample_contexts("check_in", "en", (0, 1))
    assert len(everything) == 80
    first_eight = sample_contexts("check_in", "en", (0, 1), limit=8)
    assert first_eight == everything[:8]

    def week_and_nudge(ctx: PromptContext) -> tuple[str, int]:
        assert ctx.questionnaire is not None
        return ctx.questionnaire.key, ctx.nudge_number

    assert {week_and_nudge(ctx) for ctx in first_eight} == {
        week_and_nudge(ctx) for ctx in everything
    }


async def test_a_save_renders_at_most_the_samples_configured(pool_with: PoolWith) -> None:
    last_week = sample_contexts("check_in", "en")[-1].questionnaire
    assert last_week is not None
    # Fails with the last module week without links only: not among the first four samples
    # (each week with links; check_in has a _nudge template, so nudge 0 only).
    body = (
        f"{{% if questionnaire_key == '{last_week.key}' and not answer_url %}}{{{{ nobody }}}}"
        "{% endif %}STOP"
    )
    renderer = PromptRenderer(
        InMemoryStoredTemplates(), pool=pool_with(RenderLimits(validation_samples=4))
    )
    assert await renderer.validate("check_in", "en", "sms", None, body, None) == []
    thorough = PromptRenderer(
        InMemoryStoredTemplates(), pool=pool_with(RenderLimits(validation_samples=80))
    )
    with pytest.raises(TemplateProblem, match="'nobody' is undefined"):
        await thorough.validate("check_in", "en", "sms", None, body, None)
