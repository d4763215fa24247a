"""``rituals deadletters …``: what could not be processed, and sending it round again.

rituals deadletters list [SUBJECT] [--json]          one line per dead letter, oldest first
rituals deadletters replay SUBJECT [--seq N] [--dry-run]
                                                     republish to SUBJECT, then delete

SUBJECT is the original subject (rituals.due.v1, rituals.nudge.v1, prompts.sent.v1…). The NATS
servers come from --nats-url, else RITUALS_NATS_URL, else NOTIFIER_NATS_URL, else
nats://127.0.0.1:4222. Exit status: 0 done, 1 NATS or the stream failed, 2 wrong arguments.
See shared/messaging/dead_letters.py for why a replay is safe to repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import aclosing
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from shared.messaging.dead_letters import (
    DeadLetter,
    NotReplayable,
    dead_letters,
    replay,
    replay_target,
)
from shared.streams import DEAD_LETTERS

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
CONNECT_TIMEOUT_S = 3.0


class CommandFailed(Exception):
    """Printed as ``rituals: <message>``, exit status 1."""


def default_nats_url() -> str:
    return (
        os.environ.get("RITUALS_NATS_URL")
        or os.environ.get("NOTIFIER_NATS_URL")
        or DEFAULT_NATS_URL
    )


def add_dead_letter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats-url",
        default=None,
        help="NATS servers, comma-separated (default: $RITUALS_NATS_URL, else "
        f"$NOTIFIER_NATS_URL, else {DEFAULT_NATS_URL})",
    )
    commands = parser.add_subparsers(dest="deadletters_command", required=True)
    listing = commands.add_parser("list", help="list dead letters, oldest first")
    listing.add_argument("subject", nargs="?", help="only those of this original subject")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    replaying = commands.add_parser(
        "replay", help="republish dead letters to their original subject, then delete them"
    )
    replaying.add_argument("subject", help="the original subject, e.g. rituals.due.v1")
    replaying.add_argument("--seq", type=int, default=None, help="only the dead letter N")
    replaying.add_argument("--dry-run", action="store_true", help="say what would be replayed")


def _where(servers: list[str]) -> str:
    # Host and port only: a URL may carry a user and password.
    places = []
    for server in servers:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        places.append(f"{parts.hostname}:{parts.port or 4222}")
    return ", ".join(places)


async def _connect(url: str) -> Client:
    servers = [server.strip() for server in url.split(",") if server.strip()]

    async def quiet(_error: Exception) -> None:
        return None  # reported once, below, not logged by the client at every try

    try:
        return await nats.connect(
            servers=servers,
            connect_timeout=CONNECT_TIMEOUT_S,
            allow_reconnect=False,
            # Each server is tried twice, then NoServersError (0 would mean: for ever).
            max_reconnect_attempts=1,
            reconnect_time_wait=0.5,
            error_cb=quiet,
        )
    except (OSError, TimeoutError, NatsError) as error:
        raise CommandFailed(
            f"cannot reach NATS at {_where(servers)} ({type(error).__name__}); "
            "set --nats-url or RITUALS_NATS_URL"
        ) from None


def _line(letter: DeadLetter) -> str:
    return (
        f"{letter.sequence}\t{letter.stored_at.isoformat()}\t{letter.original_subject}\t"
        f"consumer={letter.consumer or '-'}\tdeliveries={letter.deliveries or '-'}\t"
        f"reason={letter.reason or '-'}"
    )


async def _list(client: Client, subject: str | None, as_json: bool) -> int:
    count = 0
    async with aclosing(dead_letters(client.jetstream(), subject)) as letters:
        async for letter in letters:
            print(json.dumps(letter.summary()) if as_json else _line(letter))
            count += 1
    if not as_json:
        print(f"{count} dead letter(s)", file=sys.stderr)
    return 0


async def _replay(client: Client, subject: str, only: int | None, dry_run: bool) -> int:
    target = replay_target(subject).name
    replayed = duplicates = 0
    verb = "would replay" if dry_run else "replayed"
    try:
        async with aclosing(replay(client.jetstream(), subject, only, dry_run)) as outcomes:
            async for outcome in outcomes:
                replayed += 1
                where = ""
                if outcome.republished is not None:
                    where = f" as {target} seq {outcome.republished.stream_sequence}"
                    if outcome.republished.duplicate:
                        duplicates += 1
                        where += " (already there: an earlier replay stopped before its delete)"
                print(f"{verb} dead letter {outcome.letter.sequence} to {subject}{where}")
    except (NatsError, TimeoutError) as error:
        if isinstance(error, NotFoundError):
            raise
        raise CommandFailed(
            f"replay stopped after {replayed} dead letter(s): {target} did not acknowledge "
            f"({type(error).__name__}); what was replayed is gone from {DEAD_LETTERS.name}, "
            "the rest is still there: run the same command again"
        ) from None
    if only is not None and replayed == 0:
        raise CommandFailed(f"no dead letter {only} of that subject in {DEAD_LETTERS.name}")
    print(
        f"{verb} {replayed} dead letter(s) of {subject} to {target}"
        + (f"; {duplicates} were already there" if duplicates else "")
    )
    return 0


async def _run(args: argparse.Namespace) -> int:
    client = await _connect(args.nats_url or default_nats_url())
    try:
        if args.deadletters_command == "list":
            return await _list(client, args.subject, args.json)
        return await _replay(client, args.subject, args.seq, args.dry_run)
    except NotFoundError:
        raise CommandFailed(
            f"there is no {DEAD_LETTERS.name} stream on this server (no service has started "
            "against it yet?)"
        ) from None
    finally:
        await client.close()


def run_dead_letter_command(args: argparse.Namespace) -> int:
    try:
        if args.deadletters_command == "replay":
            replay_target(args.subject)  # refused before connecting
        return asyncio.run(_run(args))
    except NotReplayable as error:
        print(f"rituals: {error}", file=sys.stderr)
        return 2
    except CommandFailed as error:
        print(f"rituals: {error}", file=sys.stderr)
        return 1
