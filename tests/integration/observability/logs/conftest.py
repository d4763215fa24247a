"""Logging configured as a service configures it, into a buffer, and put back afterwards."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from shared.logs import configure_logging

TOUCHED = (
    "",
    "faststream",
    "faststream.nats",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "nats",
)


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    saved = {
        name: (logger.handlers[:], logger.propagate, logger.level, logger.filters[:])
        for name in TOUCHED
        for logger in [logging.getLogger(name)]
    }
    buffer = io.StringIO()
    configure_logging("test", "INFO", stream=buffer)
    try:
        yield buffer
    finally:
        for name, (handlers, propagate, level, filters) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.propagate, logger.filters[:] = handlers, propagate, filters
            logger.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed as a JSON object (raises on the first that is not)."""
    entries = []
    for line in text.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries
