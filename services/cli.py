"""``rituals``: operator commands. ``rituals demo`` runs the whole system once and exits."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rituals", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="play a small community through three weekly check-ins")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from services.demo.run import main as run_demo

        return run_demo()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
