from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.notifier.adapters.sms.base import SmsAccepted, SmsSender
from services.notifier.adapters.sms.outbox import SmsOutbox, outbox_message_id
from shared.clock import ManualClock

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_every_message_is_recorded_with_a_deterministic_id() -> None:
    clock = ManualClock(START)
    outbox = SmsOutbox(clock)
    port: SmsSender = outbox  # a drop-in for any provider (mypy checks the protocol)
    assert port is outbox
    accepted = await outbox.send("+447700900123", "How was your week?", None, "delivery-1")
    clock.advance(timedelta(minutes=1))
    again = await outbox.send("+447700900123", "How was your week?", None, "delivery-1")
    other = await outbox.send("+447700900456", "Hello", "https://x.example/cb", "delivery-2")

    assert accepted == again == SmsAccepted(outbox_message_id("delivery-1"))
    assert other.provider_message_id != accepted.provider_message_id
    # A duplicate send upstream is visible, not hidden by the outbox.
    assert [m.idempotency_key for m in outbox.messages] == [
        "delivery-1",
        "delivery-1",
        "delivery-2",
    ]
    assert [m.sent_at for m in outbox.to("+447700900123")] == [START, START + timedelta(minutes=1)]
    assert outbox.to("+447700900456")[0].status_callback_url == "https://x.example/cb"


def test_ids_are_opaque_tokens_without_contact_data() -> None:
    message_id = outbox_message_id("delivery-1")
    assert message_id == outbox_message_id("delivery-1")
    assert message_id.startswith("outbox-")
    assert message_id.replace("-", "").isalnum()


async def test_with_a_path_each_message_is_appended_as_a_json_line(tmp_path: Path) -> None:
    path = tmp_path / "run" / "sms-outbox.jsonl"
    outbox = SmsOutbox(ManualClock(START), path)
    await outbox.send("+447700900123", "Ça va ? 👋", None, "delivery-1")
    await outbox.send("+447700900456", "Hello", "https://x.example/cb", "delivery-2")

    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0] == {
        "provider_message_id": outbox_message_id("delivery-1"),
        "to": "+447700900123",
        "body": "Ça va ? 👋",
        "status_callback_url": None,
        "idempotency_key": "delivery-1",
        "sent_at": "2027-01-04T09:00:00+00:00",
    }
    assert records[1]["to"] == "+447700900456"

    # A second outbox on the same file appends (the demo may restart the notifier).
    await SmsOutbox(ManualClock(START), path).send("+447700900789", "Hi", None, "delivery-3")
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
