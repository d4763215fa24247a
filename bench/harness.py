"""The one table of `make bench`: scenarios, repetitions, medians, `bench/results.json`.

A scenario module (``bench/scenarios/<name>.py``) exposes ``scenarios(options) -> list[Scenario]``.
Each ``Scenario`` seeds what is expensive once per `make bench` (``seed``), then is measured
``options.runs`` times (``measure``), each repetition returning a ``Run``: the value, the
baseline measured in the same repetition (or ``None``), and the peak resident memory of each
service process it watched. The harness takes medians, prints one table and writes
``bench/results.json``::

    {"machine": {...}, "results": {NAME: {"value": median, "unit": "...",
     "baseline": median or null, "ratio": value/baseline or null, "runs": [...],
     "database": "postgresql|sqlite"}}}

NAME carries ``@sqlite`` for the SQLite run of a scenario that runs on both databases; the plain
NAME is PostgreSQL. ``rss_peak_mb.<service>`` is the largest peak any scenario reported.

A measurement that yields more than one figure (a p50 and a p99 of the same minute) declares
its other figures as ``Companion`` results: each repetition's ``Run.companions`` holds one
``Run`` per companion name, summarised into a row of its own.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Database = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class Options:
    runs: int = 3
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    # Smaller sizes for a smoke run (`python -m bench --quick`): same code, minutes less.
    quick: bool = False


@dataclass
class Run:
    value: float
    baseline: float | None = None
    # Peak resident set size (MiB) of each service process seen during this repetition.
    rss_peak_mb: dict[str, float] = field(default_factory=dict)
    # Anything else worth keeping in results.json (counts, sizes), never in the table.
    details: dict[str, Any] = field(default_factory=dict)
    # The other figures of the same measurement, by companion name (see ``Companion``).
    companions: dict[str, Run] = field(default_factory=dict)


@dataclass(frozen=True)
class Companion:
    """A second figure of a scenario's measurement, with a row of its own in the table."""

    name: str
    unit: str
    goal: str = ""


@dataclass
class Scenario:
    name: str
    unit: str
    database: Database | None
    measure: Callable[[Any], Awaitable[Run]]
    seed: Callable[[], Awaitable[Any]] | None = None
    # Called once after the last repetition with what ``seed`` returned (drop schemas...).
    cleanup: Callable[[Any], Awaitable[None]] | None = None
    # Shown beside the ratio: what the issue asks of it ("≥ 0.6", "≤ 1.3", "= 0").
    goal: str = ""
    note: str = ""
    # Measures a building block, not one of issue 11's scenarios: run with ``--all`` only.
    component: bool = False
    companions: tuple[Companion, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}@sqlite" if self.database == "sqlite" else self.name

    def companion(self, companion: Companion) -> Scenario:
        """The companion as a scenario of its own (same database), to summarise its runs."""
        return Scenario(
            companion.name, companion.unit, self.database, self.measure, goal=companion.goal
        )


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def summarise(scenario: Scenario, runs: list[Run]) -> dict[str, Any]:
    value = statistics.median(run.value for run in runs)
    baselines = [run.baseline for run in runs if run.baseline is not None]
    baseline = statistics.median(baselines) if baselines else None
    return {
        "value": value,
        "unit": scenario.unit,
        "baseline": baseline,
        "ratio": value / baseline if baseline else None,
        "runs": [{"value": run.value, "baseline": run.baseline, **run.details} for run in runs],
        "database": scenario.database,
        "goal": scenario.goal or None,
    }


def rss_results(peaks: dict[str, float]) -> dict[str, dict[str, Any]]:
    return {
        f"rss_peak_mb.{service}": {
            "value": peak,
            "unit": "MiB",
            "baseline": None,
            "ratio": None,
            "runs": [],
            "database": None,
            "goal": "≤ 300",
        }
        for service, peak in sorted(peaks.items())
    }


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def table(results: dict[str, dict[str, Any]]) -> str:
    header = ("scenario", "value", "unit", "baseline", "ratio", "goal")
    rows = [header] + [
        (
            name,
            _figure(result["value"]),
            result["unit"],
            _figure(result["baseline"]),
            f"{result['ratio']:.2f}" if result["ratio"] is not None else "-",
            result.get("goal") or "",
        )
        for name, result in results.items()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if column in (0, 2, 5) else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_results(path: Path, results: dict[str, dict[str, Any]]) -> None:
    path.write_text(
        json.dumps({"machine": machine(), "results": results}, indent=2, ensure_ascii=False) + "\n"
    )
