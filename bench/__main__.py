"""`make bench`: every scenario, seeded once, measured ``--runs`` times; one table.

    .venv/bin/python -m bench [--runs 3] [--only NAME ...] [--quick] [--postgres URL]
        [--results bench/results.json]

Prints the table on stdout (progress on stderr) and writes ``bench/results.json``. A scenario
that fails is reported on stderr and in the table with no value; the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.harness import Options, Run, Scenario, rss_results, summarise, table, write_results

# In the order they run. scheduler_emit is written on another branch: the runner works
# without it and picks it up once it exists.
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
OPTIONAL = {"scheduler_emit"}
RESULTS = Path(__file__).resolve().parent / "results.json"


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
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(f"bench.scenarios.{name}"))
        except ModuleNotFoundError as error:
            if name in OPTIONAL and error.name == f"bench.scenarios.{name}":
                print(f"(no bench/scenarios/{name}.py on this branch: skipped)", file=sys.stderr)
                continue
            raise
    return modules


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


async def run_all(
    options: Options, only: list[str], everything: bool = True
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    peaks: dict[str, float] = {}
    # Scenarios are built (and their modules imported) here, not at import time.
    for module in load_modules(MODULES):
        for scenario in module.scenarios(options):
            if not selected(scenario, only, everything):
                continue
            for service, peak in (await run_scenario(scenario, options, results)).items():
                peaks[service] = max(peak, peaks.get(service, 0.0))
    results.update(rss_results(peaks))
    return results


def footnotes(results: dict[str, dict[str, Any]]) -> list[str]:
    """What the table cannot show: failures, and figures that are only lower bounds."""
    lines = []
    for name, result in results.items():
        if "error" in result:
            lines.append(f"* {name}: failed ({result['error']})")
        bounded = sum(1 for run in result["runs"] if run.get("lower_bound"))
        if bounded:
            lines.append(
                f"* {name}: a lower bound in {bounded} of {len(result['runs'])} runs "
                "(messages still unsent at the cut-off counted at the cut-off)"
            )
    return lines


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per scenario (median)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="a scenario (or prefix)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help="also the SQLite runs (NAME@sqlite) and the component benches (rendering, HTTP "
        "clients); without it make bench stays under 15 minutes",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", Options.postgres_url),
        metavar="URL",
        help="PostgreSQL (sqlalchemy URL, asyncpg); fresh schemas, dropped afterwards",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    if arguments.runs < 1:
        print("--runs must be at least 1", file=sys.stderr)
        return 2
    quiet_logs()
    options = Options(
        runs=arguments.runs,
        postgres_url=arguments.postgres,
        quick=arguments.quick,
    )
    started = time.perf_counter()
    results = asyncio.run(run_all(options, arguments.only, arguments.everything))
    if not results:
        print(f"no scenario matches {arguments.only}", file=sys.stderr)
        return 2
    print(table(results))
    for line in footnotes(results):
        print(line)
    write_results(arguments.results, results)
    print(
        f"({time.perf_counter() - started:.0f} s; results in {arguments.results})",
        file=sys.stderr,
    )
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
