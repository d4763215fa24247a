"""The bench runner's own logic (no scenario is measured here): a scenario is seeded once and
measured ``runs`` times, its companions get rows of their own, a failure is reported without
stopping the others, its clean-up always runs, and only the optional module may be absent."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from bench.__main__ import footnotes
from bench.harness import Companion, Options, Run, Scenario
from bench.runner import in_fresh_process, run_scenario, selected


def counting_scenario(calls: dict[str, int], fail: bool = False) -> Scenario:
    async def seed() -> str:
        calls["seed"] = calls.get("seed", 0) + 1
        return "seeded"

    async def measure(seeded: Any) -> Run:
        assert seeded == "seeded"
        calls["measure"] = calls.get("measure", 0) + 1
        if fail:
            raise RuntimeError("boom")
        n = calls["measure"]
        return Run(
            float(n),
            2.0 * n,
            rss_peak_mb={"notifier": 100.0 + n},
            companions={"other_p99": Run(10.0 * n, details={"lower_bound": n == 3})},
        )

    async def cleanup(seeded: Any) -> None:
        calls["cleanup"] = calls.get("cleanup", 0) + 1

    return Scenario(
        "other_p50",
        "s",
        "sqlite",
        measure,
        seed,
        cleanup,
        companions=(Companion("other_p99", "s", "≤ 2"),),
    )


async def test_seeded_once_measured_each_run_with_companion_rows() -> None:
    calls: dict[str, int] = {}
    results: dict[str, dict[str, Any]] = {}
    peaks = await run_scenario(counting_scenario(calls), Options(runs=3), results)
    assert calls == {"seed": 1, "measure": 3, "cleanup": 1}
    assert results["other_p50@sqlite"]["value"] == 2.0
    assert results["other_p50@sqlite"]["ratio"] == 0.5
    assert results["other_p99@sqlite"]["value"] == 20.0
    assert results["other_p99@sqlite"]["goal"] == "≤ 2"
    assert peaks == {"notifier": 103.0}
    assert footnotes(results) == [
        "* other_p99@sqlite: a lower bound in 1 of 3 runs (messages still unsent at the "
        "cut-off counted at the cut-off)"
    ]


async def test_a_failing_scenario_is_reported_and_cleaned_up() -> None:
    calls: dict[str, int] = {}
    results: dict[str, dict[str, Any]] = {}
    await run_scenario(counting_scenario(calls, fail=True), Options(runs=3), results)
    assert calls == {"seed": 1, "measure": 1, "cleanup": 1}
    assert results["other_p50@sqlite"]["value"] is None
    assert results["other_p99@sqlite"]["error"] == "RuntimeError: boom"
    assert footnotes(results)[0] == "* other_p50@sqlite: failed (RuntimeError: boom)"


def test_only_matches_names_keys_companions_and_prefixes() -> None:
    scenario = counting_scenario({})
    assert selected(scenario, [])
    assert selected(scenario, ["other"])
    assert selected(scenario, ["other_p50@sqlite"])
    assert selected(scenario, ["other_p99"])
    assert not selected(scenario, ["notifier"])


def test_sqlite_variants_and_components_run_with_all_or_when_named() -> None:
    sqlite = counting_scenario({})  # other@sqlite
    assert not selected(sqlite, [], everything=False)
    assert not selected(sqlite, ["other"], everything=False)
    assert selected(sqlite, ["other_p50@sqlite"], everything=False)
    assert selected(sqlite, [], everything=True)
    component = dataclasses.replace(sqlite, database="postgresql", component=True)
    assert not selected(component, [], everything=False)
    assert selected(component, ["other"], everything=False)
    postgres = dataclasses.replace(sqlite, database="postgresql")
    assert selected(postgres, [], everything=False)


async def test_each_module_runs_in_an_interpreter_of_its_own() -> None:
    """What one module's scenarios allocated cannot count in the next one's peak memory."""
    assert await in_fresh_process(os.getpid) != os.getpid()
