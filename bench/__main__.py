"""`make bench`: every scenario, seeded once, measured ``--runs`` times; one table.

    .venv/bin/python -m bench [--runs 3] [--only NAME ...] [--quick] [--postgres URL]
        [--results bench/results.json]

Prints the table on stdout (progress on stderr) and writes ``bench/results.json``. A scenario
that fails is reported on stderr and in the table with no value; the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import Options, table, write_results
from bench.runner import quiet_logs, run_all

RESULTS = Path(__file__).resolve().parent / "results.json"


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
