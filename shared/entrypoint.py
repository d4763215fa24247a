"""``python -m services.<name> [serve|migrate]``: the same few lines for every service."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from shared.clock import Clock, SystemClock
from shared.db import create_engine
from shared.logs import configure_logging
from shared.migrations import upgrade_to_head
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings, settings_problems

S = TypeVar("S", bound=ServiceSettings)

# sysexits.h EX_CONFIG: the configuration is wrong, so restarting as it is will not help.
EXIT_BAD_SETTINGS = 78


def load_settings(name: str, settings_type: type[S]) -> S:
    """The settings from the environment; if any variable is bad, every bad one is named on
    stderr, one a line, without its value and without a traceback, and the process exits 78."""
    try:
        return settings_type()
    except (ValidationError, SettingsError) as error:
        for line in settings_problems(settings_type, error):
            sys.stderr.write(f"{name}: bad setting: {line}\n")
        raise SystemExit(EXIT_BAD_SETTINGS) from None


async def migrate_database(settings: ServiceSettings, migrations: Path) -> None:
    engine = create_engine(settings.database_url, settings.database_schema)
    try:
        await upgrade_to_head(engine, migrations, settings.database_schema)
    finally:
        await engine.dispose()


def run_service(
    name: str,
    settings_type: type[S],
    build: Callable[[S, Clock], ServiceRuntime],
    migrations: Path,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve (default) or apply database migrations and exit",
    )
    args = parser.parse_args(argv)
    settings = load_settings(name, settings_type)
    configure_logging(name, settings.log_level)
    if args.command == "migrate":
        asyncio.run(migrate_database(settings, migrations))
    else:
        asyncio.run(build(settings, SystemClock()).run_until_signalled())
