"""Logging setup: one line per record, key=value, service-named.

Log ids and counts, never contact data or free text: events carry only pseudonymous ids, and
handlers log exception *types*, not messages that could quote rows or addresses.
"""

from __future__ import annotations

import logging
import sys

# Libraries that log SQL parameters, URLs with tokens, or message bodies at DEBUG/INFO: they
# stay at WARNING whatever the service's level, so no log line carries personal data.
_LIBRARIES_THAT_QUOTE_DATA = ("aiosqlite", "sqlalchemy.engine", "uvicorn.access", "aiosmtplib")


def keep_personal_data_out_of_library_logs() -> None:
    for name in _LIBRARIES_THAT_QUOTE_DATA:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s level=%(levelname)s service={service} logger=%(name)s %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FastStream logs every message at INFO: useful when debugging, noise otherwise.
    logging.getLogger("faststream").setLevel(max(logging.WARNING, root.level))
    keep_personal_data_out_of_library_logs()
