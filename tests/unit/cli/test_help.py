"""Every ``rituals`` command answers ``--help`` (all of them, found by walking the parser, so a
command added later is covered), in plain text."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from services.cli import build_parser, main


def command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """``()`` and every subcommand path under it, depth first."""
    found = [path]
    for action in parser._actions:  # argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += command_paths(child, (*path, name))
    return found


COMMANDS = command_paths(build_parser())


def test_the_walk_finds_the_nested_commands() -> None:
    assert {
        ("schedule", "preview"),
        ("template", "preview"),
        ("insights", "release"),
        ("insights", "rebuild"),
        ("deadletters", "list"),
        ("deadletters", "replay"),
        ("demo",),
    } <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(("rituals", *path)))
def test_every_command_prints_its_help_and_exits_0(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert printed.out.startswith(f"usage: {' '.join(('rituals', *path))}")
    # Plain text: no reStructuredText literals or roles.
    assert "``" not in printed.out
    assert ":class:" not in printed.out


def test_the_top_help_lists_every_command() -> None:
    text = build_parser().format_help()
    for name in ("demo", "schedule", "template", "insights", "deadletters"):
        assert f"rituals {name}" in text


@pytest.mark.parametrize(
    ("command", "not_loaded"),
    [
        ("deadletters", ("services.notifier.templating.renderer", "services.insights.commands")),
        ("schedule", ("services.notifier.templating.renderer", "services.dead_letter_commands")),
        ("", ("services.scheduler.preview", "services.dead_letter_commands")),
    ],
)
def test_a_command_loads_only_what_it_runs_on(command: str, not_loaded: tuple[str, ...]) -> None:
    """Loading every command's modules made each invocation wait ~9 s on the 2-core machine."""
    probe = (
        "import sys; from services.cli import build_parser; "
        f"build_parser({command!r}).format_help(); "
        f"print(','.join(m for m in {not_loaded!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
