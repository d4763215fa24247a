"""The dev SMTP sink (aiosmtpd, ``shared.devsmtp``) in a process of its own, for
bench/notifier_dispatch.py: a provider's mail server is never in the notifier's process, and
in the bench's process its parsing of every message would take the notifier's CPU.

    python bench/smtp_like.py SAMPLE_PATH
        prints "ready HOST PORT", serves until stdin closes, then writes the first message's
        bytes as received to SAMPLE_PATH (the raw baseline sends the same) and prints how
        many messages it received
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.devsmtp import SmtpSink


def serve(sample: Path) -> None:
    with SmtpSink() as sink:
        print("ready", sink.host, sink.port, flush=True)
        for line in sys.stdin:  # "sample" asks for the first message; EOF ends the sink
            if line.strip() == "sample":
                sample.write_bytes(sink.messages[0].raw)
                print("written", flush=True)
        print(len(sink.messages), flush=True)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
