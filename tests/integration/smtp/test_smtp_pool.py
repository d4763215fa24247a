"""The SMTP pool against a real server: STARTTLS and implicit TLS with AUTH, reused
connections, reconnection after the server drops an idle one, and failure classes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from services.notifier.adapters.smtp_sender import SendFailed, SmtpPool
from services.notifier.domain.mime import OutgoingEmail, alternative_email
from services.notifier.settings import NotifierSettings, SmtpSecurity
from shared.devsmtp import SmtpSink

USER, PASSWORD = "rituals", "s3cret-relay-password-for-tests"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return server, bundle


def message(to: str = "ana@example.org") -> OutgoingEmail:
    headers = [("From", "rituals@example.org"), ("To", to), ("Subject", "check-in")]
    return OutgoingEmail(
        "rituals@example.org", to, alternative_email(headers, "hello", "<p>hello</p>", "m1")
    )


def pool_for(
    sink: SmtpSink, security: SmtpSecurity, bundle: Path | None, **extra: object
) -> SmtpPool:
    settings = NotifierSettings(
        environment="dev",
        smtp_host=sink.host,
        smtp_port=sink.port,
        smtp_security=security,
        smtp_ca_bundle=str(bundle) if bundle else None,
        smtp_timeout_s=5,
        **extra,  # type: ignore[arg-type]
    )
    return SmtpPool(settings)


@pytest.fixture
def starttls_sink(certificates: tuple[ssl.SSLContext, Path]) -> Iterator[SmtpSink]:
    with SmtpSink(starttls=certificates[0], credentials=(USER, PASSWORD)) as sink:
        yield sink


async def test_starttls_with_auth_delivers_and_reuses_one_connection(
    starttls_sink: SmtpSink, certificates: tuple[ssl.SSLContext, Path]
) -> None:
    pool = pool_for(
        starttls_sink,
        SmtpSecurity.starttls,
        certificates[1],
        smtp_username=USER,
        smtp_password=PASSWORD,
        smtp_pool_size=2,
    )
    for n in range(5):
        await pool.send(message(f"member{n}@example.org"))
    await pool.close()
    assert len(await starttls_sink.wait_for(5)) == 5
    assert starttls_sink.sessions == 1  # one connection, reused


async def test_a_wrong_password_is_kept_for_retry_not_dropped(
    starttls_sink: SmtpSink, certificates: tuple[ssl.SSLContext, Path]
) -> None:
    pool = pool_for(
        starttls_sink,
        SmtpSecurity.starttls,
        certificates[1],
        smtp_username=USER,
        smtp_password="wrong-password-wrong-password",
    )
    with pytest.raises(SendFailed) as failure:
        await pool.send(message())
    assert (failure.value.status, failure.value.permanent) == (535, False)
    assert failure.value.provider_down  # our credentials: every message would fail alike


async def test_an_untrusted_certificate_is_refused(starttls_sink: SmtpSink) -> None:
    pool = pool_for(
        starttls_sink, SmtpSecurity.starttls, None, smtp_username=USER, smtp_password=PASSWORD
    )
    with pytest.raises(SendFailed) as failure:
        await pool.send(message())
    assert failure.value.permanent is False
    assert starttls_sink.messages == []


async def test_implicit_tls(certificates: tuple[ssl.SSLContext, Path]) -> None:
    with SmtpSink(implicit_tls=certificates[0], credentials=(USER, PASSWORD)) as sink:
        pool = pool_for(
            sink,
            SmtpSecurity.implicit_tls,
            certificates[1],
            smtp_username=USER,
            smtp_password=PASSWORD,
        )
        await pool.send(message())
        await pool.close()
        assert len(await sink.wait_for(1)) == 1


async def test_a_connection_the_server_dropped_is_reopened_once() -> None:
    with SmtpSink() as sink:
        pool = pool_for(sink, SmtpSecurity.none, None)
        await pool.send(message())
        sink.drop_connections()  # as an idle timeout would: the pooled connection is dead
        await asyncio.sleep(0.1)  # let the close reach the client (not a schedule)
        await pool.send(message())
        await pool.close()
        assert len(await sink.wait_for(2)) == 2
        assert sink.sessions == 2


@pytest.mark.parametrize(
    ("reply", "permanent", "provider_down"),
    [
        ("451 4.3.0 busy", False, False),  # this recipient, for now (greylisting, say)
        ("550 5.1.1 unknown", True, False),
        ("421 4.3.2 shutting down", False, True),  # the relay itself
    ],
)
async def test_replies_are_classified_by_code(
    reply: str, permanent: bool, provider_down: bool
) -> None:
    with SmtpSink() as sink:
        sink.script("ana@example.org", reply)
        pool = pool_for(sink, SmtpSecurity.none, None)
        with pytest.raises(SendFailed) as failure:
            await pool.send(message())
        assert (failure.value.status, failure.value.permanent) == (int(reply[:3]), permanent)
        assert failure.value.provider_down is provider_down
        await pool.close()


async def test_an_unreachable_relay_is_the_provider_down() -> None:
    with SmtpSink() as sink:
        pool = pool_for(sink, SmtpSecurity.none, None)
    # The sink has stopped: nothing listens on its port any more.
    with pytest.raises(SendFailed) as failure:
        await pool.send(message())
    assert (failure.value.permanent, failure.value.provider_down) == (False, True)
