"""Runs the scenario modules: each in an interpreter of its own, each scenario seeded once and
measured ``runs`` times; their results and the peak memory each service reached."""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from types import ModuleType
from typing import Any, TypeVar

from bench.harness import Options, Run, Scenario, rss_results, summarise

# In the order they run.
MODULES = (
    "scheduler_emit",
    "scheduler_scale",
    "rrule_old_dtstart",
    "notifier_dispatch",
    "lateness",
    "insights",
    "template_render",
    "http_clients",
)
T = TypeVar("T")


class BelowWarning(logging.Filter):
    """Drops INFO and DEBUG records, whatever level a library later sets on its logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_logs() -> None:
    """Only warnings and errors from the services and libraries: a table, not a flood.

    The services log every tick and batch at INFO, FastStream logs its subscribers (and its
    supervisor a line per finished pull task), uvicorn its start-up. Set in this process only
    (``make bench``), never for the tests.

    FastStream's supervisor stays on (FASTSTREAM_SUPERVISOR_DISABLED is not set): with it off,
    a pull loop whose fetch times out on a busy event loop (nats-py raises the builtin
    TimeoutError) dies for good, and a scenario would wait for a consumer that is gone; with it
    on, the loop is restarted and ``shared.logs.RoutinePullTimeout`` keeps that quiet.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("asyncio", "faststream", "faststream.nats", "uvicorn", "aiosqlite", "nats"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.addFilter(BelowWarning())
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def load_modules(names: Iterable[str]) -> list[ModuleType]:
    return [importlib.import_module(f"bench.scenarios.{name}") for name in names]


def selected(scenario: Scenario, only: list[str], everything: bool = True) -> bool:
    """``--only`` matches a scenario's name, its key (``x@sqlite``), a companion's name, or a
    prefix of any of these (``--only notifier`` runs both notifier scenarios). Without
    ``everything`` (``--all``), SQLite variants and component benches run only when ``--only``
    names them: PostgreSQL's scenarios alone keep ``make bench`` under 15 minutes."""
    if (scenario.database == "sqlite" or scenario.component) and not everything:
        return any(
            scenario.key.startswith(wanted) and (scenario.component or "@" in wanted)
            for wanted in only
        )
    if not only:
        return True
    names = [scenario.name, scenario.key, *(companion.name for companion in scenario.companions)]
    return any(name.startswith(wanted) for wanted in only for name in names)


def failed(scenario: Scenario, error: BaseException) -> dict[str, Any]:
    return {
        "value": None,
        "unit": scenario.unit,
        "baseline": None,
        "ratio": None,
        "runs": [],
        "database": scenario.database,
        "goal": scenario.goal or None,
        "error": f"{type(error).__name__}: {error}",
    }


async def run_scenario(
    scenario: Scenario, options: Options, results: dict[str, dict[str, Any]]
) -> dict[str, float]:
    """Seed once, measure ``options.runs`` times, clean up; the peak RSS per service."""
    started = time.perf_counter()
    print(f"{scenario.key}: seeding", file=sys.stderr, flush=True)
    runs: list[Run] = []
    seeded: Any = None
    try:
        seeded = await scenario.seed() if scenario.seed is not None else None
        for repetition in range(options.runs):
            runs.append(await scenario.measure(seeded))
            print(
                f"{scenario.key}: run {repetition + 1}/{options.runs}: {runs[-1].value:.4g} "
                f"{scenario.unit} (baseline {runs[-1].baseline})",
                file=sys.stderr,
                flush=True,
            )
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        results[scenario.key] = failed(scenario, error)
        for companion in scenario.companions:
            results[scenario.companion(companion).key] = failed(
                scenario.companion(companion), error
            )
    else:
        results[scenario.key] = summarise(scenario, runs)
        for companion in scenario.companions:
            own = scenario.companion(companion)
            results[own.key] = summarise(own, [run.companions[companion.name] for run in runs])
    finally:
        if scenario.cleanup is not None:
            try:
                await scenario.cleanup(seeded)
            except Exception:
                traceback.print_exc(file=sys.stderr)
    print(f"{scenario.key}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    peaks: dict[str, float] = {}
    for run in runs:
        for service, peak in run.rss_peak_mb.items():
            peaks[service] = max(peak, peaks.get(service, 0.0))
    return peaks


async def run_module(
    module: ModuleType, options: Options, only: list[str], everything: bool
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """One module's selected scenarios: their results and the peak RSS per service."""
    results: dict[str, dict[str, Any]] = {}
    peaks: dict[str, float] = {}
    for scenario in module.scenarios(options):
        if not selected(scenario, only, everything):
            continue
        for service, peak in (await run_scenario(scenario, options, results)).items():
            peaks[service] = max(peak, peaks.get(service, 0.0))
    return results, peaks


def run_module_alone(
    name: str, options: Options, only: list[str], everything: bool
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """In a fresh interpreter: ``run_module`` for ``bench.scenarios.<name>``."""
    quiet_logs()
    (module,) = load_modules([name])
    return asyncio.run(run_module(module, options, only, everything))


async def run_all(
    options: Options, only: list[str], everything: bool = True
) -> dict[str, dict[str, Any]]:
    """Every module's scenarios, each module in a process of its own.

    Services a scenario starts run in the process that measures them, and a process keeps what
    earlier scenarios allocated (CPython returns little memory to the system): measured in one
    long process, the insights ingest's peak was 295-326 MiB, of which about 160 MiB was its
    own. A fresh interpreter per module makes each peak the service's plus the harness's,
    and keeps one scenario's leftovers (tasks, caches, garbage) out of the next one's timings.
    """
    results: dict[str, dict[str, Any]] = {}
    peaks: dict[str, float] = {}
    # The scenarios are listed here (cheap: nothing is seeded) to spawn only for a module
    # with something to run; this process measures nothing, so what it imports costs no figure.
    for module in load_modules(MODULES):
        if not any(selected(scenario, only, everything) for scenario in module.scenarios(options)):
            continue
        name = module.__name__.rsplit(".", 1)[-1]
        module_results, module_peaks = await in_fresh_process(
            run_module_alone, name, options, only, everything
        )
        results.update(module_results)
        for service, peak in module_peaks.items():
            peaks[service] = max(peak, peaks.get(service, 0.0))
    results.update(rss_results(peaks))
    return results


async def in_fresh_process(function: Callable[..., T], *arguments: Any) -> T:
    """``function(*arguments)`` in a new interpreter (spawned, not forked: nothing of this
    process's memory or event loop is shared), its result returned here."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *arguments)
