"""Log lines are JSON objects: message, level, logger, the service, the exception's type and
traceback, extra fields, and the trace they were logged in."""

from __future__ import annotations

import json
import logging
import sys

from opentelemetry.sdk.trace import TracerProvider

from shared.logs import JsonFormatter, RoutinePullTimeout


def record(
    message: str, *args: object, level: int = logging.INFO, **extra: object
) -> logging.LogRecord:
    made = logging.LogRecord("shared.test", level, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_record_is_one_line_of_json() -> None:
    line = JsonFormatter("notifier").format(record("sent %s of %s\nto nobody", 3, 4, batch=7))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "sent 3 of 4\nto nobody"
    assert (entry["level"], entry["service"], entry["logger"]) == (
        "INFO",
        "notifier",
        "shared.test",
    )
    assert entry["batch"] == 7
    assert entry["time"].endswith("+00:00")
    assert "trace_id" not in entry


def test_an_exception_comes_with_its_type_and_traceback() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        failed = record("failed", level=logging.ERROR)
        failed.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter("scheduler").format(failed))
    assert entry["exc_type"] == "ValueError"
    assert entry["exc_info"].startswith("Traceback")


def test_inside_a_span_the_trace_is_named() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = json.loads(JsonFormatter("insights").format(record("inside")))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["span_id"] == format(span.get_span_context().span_id, "016x")


def test_the_pull_timeout_filter_leaves_other_timeouts_alone() -> None:
    # Raised here, not inside nats-py's fetch: an error like any other.
    try:
        raise TimeoutError
    except TimeoutError:
        elsewhere = record("task failed", level=logging.ERROR)
        elsewhere.exc_info = sys.exc_info()
    assert RoutinePullTimeout().filter(elsewhere)
    assert elsewhere.levelno == logging.ERROR
    assert elsewhere.exc_info is not None
