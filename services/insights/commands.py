"""``rituals insights …``: operators' commands for insights, on its settings (INSIGHTS_*).

rituals insights release --week 2027-W01     release a week now (once; asking again spends nothing)
rituals insights release --period 2027-P01   release a 4-week period now
rituals insights rebuild --into URL          replay the streams into a fresh database
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import asdict

from services.insights.domain.indicators import Cadence
from services.insights.handlers.release import compute_release
from services.insights.rebuild import rebuild
from services.insights.settings import InsightsSettings
from shared.clock import SystemClock
from shared.db import create_engine, session_factory
from shared.entrypoint import load_settings

WEEK = r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"


def add_insights_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="insights_command", required=True)
    release = commands.add_parser("release", help="compute and store a release now")
    which = release.add_mutually_exclusive_group(required=True)
    which.add_argument("--week", help="an ISO week, e.g. 2027-W01")
    which.add_argument("--period", help="a 4-week period, e.g. 2027-P01")
    rebuilt = commands.add_parser(
        "rebuild", help="replay what the streams hold into a fresh database; releases are kept"
    )
    rebuilt.add_argument("--into", required=True, help="SQLAlchemy async URL of the new database")
    rebuilt.add_argument("--into-schema", default=None, help="its PostgreSQL schema, if any")


async def _release(settings: InsightsSettings, cadence: Cadence, window: str) -> dict[str, object]:
    engine = create_engine(settings.database_url, settings.database_schema)
    try:
        outcome = await compute_release(
            session_factory(engine), settings.release_policy(), SystemClock(), cadence, window
        )
    finally:
        await engine.dispose()
    return {
        "release_id": outcome.release_id,
        "computed_now": outcome.stored,
        "communities": list(outcome.communities),
        "refused": outcome.refused,
    }


def run_insights_command(args: argparse.Namespace) -> int:
    settings = load_settings("insights", InsightsSettings)
    if args.insights_command == "release":
        cadence = Cadence.week if args.week else Cadence.period
        window = args.week or args.period
        pattern = WEEK if cadence is Cadence.week else r"^\d{4}-P(0[1-9]|1[0-4])$"
        if not re.match(pattern, window):
            print(
                f"rituals: not a {cadence.value}: expected e.g. 2027-W01 or 2027-P01",
                file=sys.stderr,
            )
            return 2  # (the argument is not echoed: it came from outside)
        print(json.dumps(asyncio.run(_release(settings, cadence, window)), indent=2))
        return 0
    report = asyncio.run(
        rebuild(
            settings.nats_url,
            settings.database_url,
            settings.database_schema,
            args.into,
            args.into_schema,
        )
    )
    print(json.dumps(asdict(report), indent=2))
    return 0
