"""Logging setup: one JSON object a line on stderr, for the service and for the libraries it
runs (uvicorn, FastStream, nats-py, SQLAlchemy, alembic...): a log pipeline parses every line
the same way, and stdout stays free for what a command prints (the demo's narrative).

Log ids and counts, never contact data or free text: events carry only pseudonymous ids, and
handlers log exception *types*, not messages that could quote rows or addresses.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

# Libraries that log SQL parameters, URLs with tokens, or message bodies at DEBUG/INFO: they
# stay at WARNING whatever the service's level, so no log line carries personal data.
# uvicorn's access log is one of them: a member's signed link is a URL path.
_LIBRARIES_THAT_QUOTE_DATA = ("aiosqlite", "sqlalchemy.engine", "uvicorn.access", "aiosmtplib")
# Libraries that bring a handler of their own (FastStream's colours on stderr) or none at all:
# their records go through the root's JSON handler instead.
_LIBRARY_LOGGERS = ("faststream", "uvicorn", "uvicorn.error", "uvicorn.access", "nats")

# The standard attributes of a LogRecord: anything else on a record came in ``extra``.
# uvicorn's ``color_message`` repeats the message with terminal colours.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def keep_personal_data_out_of_library_logs() -> None:
    for name in _LIBRARIES_THAT_QUOTE_DATA:
        logging.getLogger(name).setLevel(logging.WARNING)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "service", "logger", "message", ...}``; ``exc_type`` and
    ``exc_info`` (the traceback, as one string) when there is an exception; ``trace_id`` and
    ``span_id`` inside a trace; and the record's ``extra`` fields, which must be as free of
    personal data as the message."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers[:] = []
        library.propagate = True
    # FastStream logs every message at INFO: useful when debugging, noise otherwise.
    logging.getLogger("faststream").setLevel(max(logging.WARNING, root.level))
    keep_personal_data_out_of_library_logs()


class RoutinePullTimeout(logging.Filter):
    """FastStream 0.7.8's pull loop catches nats-py's ``nats.errors.TimeoutError`` but not the
    plain ``asyncio.TimeoutError`` nats-py's ``fetch`` raises when its deadline passes between
    its two pull requests (nothing arrived: an idle consumer, every few minutes). The loop's
    task then ends, FastStream's supervisor restarts it (nothing was fetched, nothing is lost)
    and logs it at ERROR with a traceback. That one record, and only it, is an idle pull: it
    is logged at DEBUG without the traceback. Any other failure of the loop stays an ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not record.exc_info:
            return True
        error = record.exc_info[1]
        if type(error) is not TimeoutError or not _raised_by_nats_fetch(error):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.msg, record.args = "pull timed out with nothing to fetch; pulling again", ()
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _raised_by_nats_fetch(error: BaseException) -> bool:
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].filename.replace("\\", "/").endswith("nats/js/client.py")


def quiet_routine_pull_timeouts(logger: logging.Logger) -> None:
    """Install ``RoutinePullTimeout`` on FastStream's broker logger (once)."""
    if not any(isinstance(f, RoutinePullTimeout) for f in logger.filters):
        logger.addFilter(RoutinePullTimeout())
