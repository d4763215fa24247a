"""The dev SMS outbox: every message the notifier would have sent, kept instead of sent.

The local demo's SMS channel, and a recording ``SmsSender`` for tests. Every call is recorded,
repeats included, so a duplicate send upstream shows up as two entries with the same id (the id
is derived from the idempotency key). With a ``path`` each message is also appended to that file
as one JSON line: it holds phone numbers and texts, so it belongs in a dev run directory only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from services.notifier.adapters.sms.base import SmsAccepted
from shared.clock import Clock


@dataclass(frozen=True)
class OutboxSms:
    provider_message_id: str
    to: str
    body: str
    status_callback_url: str | None
    idempotency_key: str
    sent_at: datetime


def outbox_message_id(idempotency_key: str) -> str:
    """The id the outbox gives a message: the same key always gets the same id."""
    return "outbox-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


class SmsOutbox:
    """``SmsSender`` that records; never fails."""

    def __init__(self, clock: Clock, path: Path | None = None) -> None:
        self._clock = clock
        self._path = path
        self._messages: list[OutboxSms] = []
        self._file_lock = threading.Lock()

    async def send(
        self,
        to_e164: str,
        body: str,
        status_callback_url: str | None,
        idempotency_key: str,
    ) -> SmsAccepted:
        """Record the message (and append it to the file, if any); return its deterministic id."""
        message = OutboxSms(
            provider_message_id=outbox_message_id(idempotency_key),
            to=to_e164,
            body=body,
            status_callback_url=status_callback_url,
            idempotency_key=idempotency_key,
            sent_at=self._clock.now(),
        )
        self._messages.append(message)
        if self._path is not None:
            await asyncio.to_thread(self._append, self._path, message)
        return SmsAccepted(provider_message_id=message.provider_message_id)

    @property
    def messages(self) -> list[OutboxSms]:
        return list(self._messages)

    def to(self, to_e164: str) -> list[OutboxSms]:
        return [message for message in self._messages if message.to == to_e164]

    def _append(self, path: Path, message: OutboxSms) -> None:
        record = asdict(message) | {"sent_at": message.sent_at.isoformat()}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._file_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as file:
                file.write(line)


class ManagedOutbox:
    """The dev outbox, shaped like the network providers (start/close do nothing)."""

    def __init__(self, outbox: SmsOutbox) -> None:
        self.outbox = outbox

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(
        self, to_e164: str, body: str, status_callback_url: str | None, idempotency_key: str
    ) -> SmsAccepted:
        return await self.outbox.send(to_e164, body, status_callback_url, idempotency_key)
