"""``rituals``: operator commands (``rituals --help`` prints ``DESCRIPTION``)."""

from __future__ import annotations

import argparse
import sys

# Plain text: argparse prints it as written (no RST), one command a line.
DESCRIPTION = """\
Operator commands for Connection Rituals.

  rituals demo [--serve]            run the whole system through a demo (--serve: keep it up)
  rituals schedule preview ...      next occurrences of a schedule, UTC and local time
  rituals template preview KEY ...  a prompt rendered with sample data (--locale, --channel)
  rituals insights release ...      release a week or a period now (INSIGHTS_* settings)
  rituals insights rebuild ...      replay the streams into a fresh insights database
  rituals deadletters list|replay   dead letters: list them, or replay those of a subject
  rituals config reference          every environment variable, as Markdown

Each command has its own --help. Exit status: 0 done, 1 failed, 2 wrong arguments.
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command and its arguments; nothing runs (the tests walk it for --help).

    With ``command``, only that command's arguments are filled in (the others are listed with
    their help): each command's module imports what it runs on, and importing all of them made
    every ``rituals`` invocation, ``rituals deadletters list`` included, wait ~9 s on the 2-core
    machine before doing anything.
    """
    wanted = (lambda name: True) if command is None else (lambda name: name == command)
    parser = argparse.ArgumentParser(
        prog="rituals",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="play two communities through a 4-week period and print what was released"
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="afterwards, keep the system up (dashboard, APIs) until Ctrl-C or SIGTERM",
    )
    schedule = commands.add_parser("schedule", help="schedule tools")
    schedule_commands = schedule.add_subparsers(dest="schedule_command", required=True)
    preview = schedule_commands.add_parser(
        "preview",
        help="print the next occurrences, UTC instant and local time, one a line",
        description="The next occurrences of a schedule as the scheduler computes them, "
        "checked as the operator API checks a ritual: the UTC instant, then the local time in "
        "--tz. A schedule the API would refuse, or one with no occurrence, exits 2.",
    )
    if wanted("schedule"):
        from services.scheduler.preview import add_preview_arguments

        add_preview_arguments(preview)
    template = commands.add_parser("template", help="template tools")
    template_commands = template.add_subparsers(dest="template_command", required=True)
    template_preview = template_commands.add_parser(
        "preview", help="print a prompt rendered with sample data"
    )
    if wanted("template"):
        from services.notifier.template_preview import add_template_preview_arguments

        add_template_preview_arguments(template_preview)
    insights = commands.add_parser("insights", help="insights: releases, rebuild")
    if wanted("insights"):
        from services.insights.commands import add_insights_arguments

        add_insights_arguments(insights)
    dead_letters = commands.add_parser("deadletters", help="dead letters: list, replay")
    if wanted("deadletters"):
        from services.dead_letter_commands import add_dead_letter_arguments

        add_dead_letter_arguments(dead_letters)
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser(
        "reference",
        help="print every environment variable the services read, as Markdown",
        description="The reference in docs/configuration.md, generated from the settings "
        "classes (secrets without values): rituals config reference > docs/configuration.md",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    # The command is the first word (``rituals`` itself takes no option but --help).
    command = next((word for word in arguments if not word.startswith("-")), None)
    parser = build_parser(command or "")  # no command: the list, no command's details
    args = parser.parse_args(arguments)

    if args.command == "demo":
        try:
            from services.demo.run import main as run_demo
        except ModuleNotFoundError as missing:
            # The image installs no development servers: say what is missing, not a traceback.
            if (missing.name or "").partition(".")[0] != "aiosmtpd":
                raise
            print(
                f"rituals demo: {missing.name} is not installed; the demo runs the local "
                "servers: pip install 'connection-rituals[devservers]'",
                file=sys.stderr,
            )
            return 2
        return run_demo(serve=args.serve)
    if args.command == "schedule":
        return _schedule_preview(args)
    if args.command == "insights":
        from services.insights.commands import run_insights_command

        return run_insights_command(args)
    if args.command == "deadletters":
        from services.dead_letter_commands import run_dead_letter_command

        return run_dead_letter_command(args)
    if args.command == "config":
        from services.settings_reference import render_reference

        sys.stdout.write(render_reference())
        return 0
    if args.command == "template":
        from services.notifier.template_preview import run_template_preview

        return run_template_preview(args)
    parser.error(f"unknown command {args.command}")
    return 2


def _schedule_preview(args: argparse.Namespace) -> int:
    from services.scheduler.domain.recurrence import ScheduleError, UnknownTimeZone
    from services.scheduler.preview import preview_lines

    try:
        lines = preview_lines(
            args.rrule, args.dtstart, args.tz, args.after, args.count, args.exdate, args.time_slot
        )
    except UnknownTimeZone as error:
        print(f"rituals: {error}{error.did_you_mean}", file=sys.stderr)
        return 2
    except ScheduleError as error:
        print(f"rituals: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
