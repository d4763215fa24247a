"""What `make run` and `make test` install, read from make's own plan (`make -n`) in a copy of
the build files: the demo set for `make run`, the dev set for `make test`, and the stamps that
keep either from installing again what the other installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS_AT = 1_700_000_000  # the build files' mtime; stamps are made later than this


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files make's install rules depend on, all with one old mtime."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    for path in [tmp_path / "Makefile", tmp_path / "pyproject.toml"]:
        os.utime(path, (LOCKS_AT, LOCKS_AT))
    for path in (tmp_path / "requirements").iterdir():
        os.utime(path, (LOCKS_AT, LOCKS_AT))
    return tmp_path


def installed(checkout: Path, *names: str) -> None:
    """Files under .venv made after the build files, as the install rules leave them."""
    for name in names:
        path = checkout / ".venv" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (LOCKS_AT + 60, LOCKS_AT + 60))


def plan(checkout: Path, target: str) -> str:
    """The commands `make <target>` would run, not running them. Run as make's child (`make
    test` runs pytest), a make prints "Entering directory" lines and inherits the parent's
    flags: it is run as a make of its own."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    }
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return result.stdout


def test_a_fresh_make_run_installs_the_demo_set_only(checkout: Path) -> None:
    commands = plan(checkout, "run")
    assert "-r requirements/installer.lock" in commands  # uv, by pip
    assert (
        "uv pip install --python .venv/bin/python --require-hashes --compile-bytecode"
        " -r requirements/demo.lock" in commands
    )  # bytecode at install: with PYTHONDONTWRITEBYTECODE set, imports otherwise compile every time
    assert "dev.lock" not in commands
    assert commands.rstrip().endswith(".venv/bin/rituals demo")


def test_make_test_after_make_run_adds_the_dev_set(checkout: Path) -> None:
    installed(checkout, "bin/uv", ".installed-demo")
    commands = plan(checkout, "install")
    assert "-r requirements/dev.lock" in commands
    assert "installer.lock" not in commands  # uv is there already
    assert "touch .venv/.installed-dev .venv/.installed-demo" in commands


def test_make_run_after_make_test_installs_nothing(checkout: Path) -> None:
    installed(checkout, "bin/uv", ".installed-dev", ".installed-demo")
    assert plan(checkout, "run").strip() == ".venv/bin/rituals demo"


def test_a_changed_lock_installs_again(checkout: Path) -> None:
    installed(checkout, "bin/uv", ".installed-dev", ".installed-demo")
    os.utime(checkout / "requirements" / "demo.lock", (LOCKS_AT + 120, LOCKS_AT + 120))
    assert "-r requirements/demo.lock" in plan(checkout, "run")
