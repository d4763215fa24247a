"""One replica of our scheduler, in a process of its own, on a manual clock the bench moves.

Built by ``wire_scheduler``, the function ``python -m services.scheduler`` uses, and started as
production starts it (migrations, streams, broker, ticker, outbox relay, HTTP listener); only
the clock differs, so the bench decides when the burst falls due without waiting for it.

    python -m bench.scenarios.scheduler_replica URL SCHEMA|- NATS_URL START HTTP_PORT

Prints ``ready`` once started and its first tick (nothing due) ran. On ``advance ISO`` it sets
the clock and prints ``ticked MONOTONIC`` once the tick at that instant finished
(``time.monotonic()``, the same clock in every process of the machine): the outbox relay may
still be publishing then; or ``failed MESSAGE`` if the tick failed, and stops. End of input
stops it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import time
from datetime import datetime

from pydantic import SecretStr

from bench.scenarios.child_process import commands, say
from services.scheduler.handlers.ticker import Ticker
from services.scheduler.main import wire_scheduler
from services.scheduler.settings import SchedulerSettings
from shared.clock import ManualClock
from shared.logs import configure_logging
from shared.settings import Environment

POLL_S = 0.005


class TickFailures(logging.Handler):
    """The ticker survives a failed tick (a database outage) by logging it and trying again at
    its next interval, which on a manual clock never comes: a failure is the burst's end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("tick failed"):
            self.failures.append(message)


async def ticked_by(ticker: Ticker, instant: datetime, failures: TickFailures) -> None:
    """Until a tick at ``instant`` (or later) finished. Polled: the ticker's only hook,
    ``on_tick``, belongs to the metrics."""
    while not failures.failures:
        last = ticker.last_tick_at
        if last is not None and last >= instant:
            return
        await asyncio.sleep(POLL_S)
    raise TickFailed(failures.failures[0])


class TickFailed(Exception):
    pass


async def serve(
    database_url: str, schema: str | None, nats_url: str, start: datetime, http_port: int
) -> None:
    clock = ManualClock(start)
    settings = SchedulerSettings(
        environment=Environment.dev,
        nats_url=nats_url,
        database_url=database_url,
        database_schema=schema,
        http_host="127.0.0.1",
        http_port=http_port,
        operator_token=SecretStr(secrets.token_urlsafe(32)),
    )
    runtime, ticker = wire_scheduler(settings, clock)
    failures = TickFailures()
    logging.getLogger(Ticker.__module__).addHandler(failures)
    inbox = await commands()
    await runtime.start()
    try:
        await ticked_by(ticker, start, failures)
        say("ready")
        while (command := await inbox.get()) != "stop":
            word, _, argument = command.partition(" ")
            if word != "advance":
                raise ValueError(f"unknown command {word!r}")
            instant = datetime.fromisoformat(argument)
            clock.set(instant)
            await ticked_by(ticker, instant, failures)
            say("ticked", time.monotonic())
    except TickFailed as failure:
        say("failed", failure)
    finally:
        await runtime.stop()


def main(argv: list[str]) -> None:
    # As the service logs (JSON on stderr; stdout is the bench's line protocol), warnings and
    # errors only: no per-tick or per-task lines in the bench's output.
    configure_logging("scheduler", "WARNING")
    database_url, schema, nats_url, start, http_port = argv
    asyncio.run(
        serve(
            database_url,
            None if schema == "-" else schema,
            nats_url,
            datetime.fromisoformat(start),
            int(http_port),
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
