"""The fault tests' figures (kills, duplicates, recovery times) are printed by each test; pytest
captures a passing test's output, so they are gathered here and shown at the end of every run
(CI's included), under "fault figures"."""

from __future__ import annotations

import pytest

_FIGURES: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and report.capstdout.strip():
        _FIGURES.append((report.nodeid, report.capstdout.strip()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault figures")
    for nodeid, figures in _FIGURES:
        terminalreporter.write_line(nodeid)
        for line in figures.splitlines():
            terminalreporter.write_line(f"  {line}")
