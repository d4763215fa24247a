"""The dev SMTP sink logs counts, sizes and ids: never an address, a subject, a body, a link or
a password, at any level (aiosmtpd's own conversation logging included)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import pytest

from shared.devsmtp import SmtpSink

SENDER = "checkins@rituals.example"
RECIPIENT = "ana.private@riverside.example"
REFUSED = "bo.private@riverside.example"
SUBJECT = "Your weekly check-in: how lonely do you feel"
LINK = "http://127.0.0.1:8080/r/YW5zd2VyfGQxfDE3OTk.SecretMacPart0123456789"
BODY = f"Hello Ana, tap to answer: {LINK}"
USER, PASSWORD = "sink-user", "sink-password-do-not-log"


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = SUBJECT
    message["Message-ID"] = "<d_42.1@rituals.localhost>"
    message.set_content(BODY)
    return message


def test_a_message_through_the_sink_logs_none_of_its_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpSink(credentials=(USER, PASSWORD)) as sink:
        sink.script(REFUSED, "451 try later", stage="rcpt")
        with smtplib.SMTP(sink.host, sink.port) as client:
            client.login(USER, PASSWORD)
            client.send_message(_message(RECIPIENT))
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.send_message(_message(REFUSED))
        assert len(sink.messages) == 1

    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    for secret in (
        SENDER,
        RECIPIENT,
        REFUSED,
        "private@",
        SUBJECT,
        "lonely",
        LINK,
        "/r/",
        BODY,
        "Hello Ana",
        PASSWORD,
        USER,
    ):
        assert secret not in logged, secret
    assert "@" not in logged  # nothing that reads as an address, Message-IDs included
    # What it does log: that a message came, its id and size (so this capture saw the sink).
    accepted = [r.getMessage() for r in caplog.records if "message accepted" in r.getMessage()]
    assert len(accepted) == 1
    assert "message_id=d_42.1," in accepted[0]  # its left-hand side: no "@" in logs
    assert "1 recipient(s)" in accepted[0]
    assert any("recipient refused as scripted (451)" in r.getMessage() for r in caplog.records)
