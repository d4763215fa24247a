"""All three services in one process on a shared clock, wired exactly as in production.

Each service is built by its own ``build_*`` function (the one ``python -m services.<name>``
uses) and talks to the others only through a real nats-server with JetStream; e-mail goes over
SMTP to a real aiosmtpd server. ``make run`` and the integration tests both start this.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from services.insights.main import build_insights
from services.insights.settings import InsightsSettings
from services.notifier.domain.insights_release import next_daily_release, week_closes_at
from services.notifier.handlers.workers.dispatcher import Dispatcher
from services.notifier.main import wire_notifier
from services.notifier.settings import NotifierSettings, SmtpSecurity
from services.scheduler.handlers.ticker import Ticker
from services.scheduler.main import wire_scheduler
from services.scheduler.settings import SchedulerSettings
from shared.clock import ManualClock
from shared.devsmtp import SmtpSink
from shared.devtwilio import FakeTwilio
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.runtime import ServiceRuntime
from shared.settings import Environment

DatabaseFor = Callable[[str], tuple[str, str | None]]
SMS_NUMBER = "+447700900999"  # the service's own number (an Ofcom drama number)


def sqlite_databases(directory: Path) -> DatabaseFor:
    def database_for(service: str) -> tuple[str, str | None]:
        return f"sqlite+aiosqlite:///{directory / f'{service}.sqlite3'}", None

    return database_for


class ApiClient:
    """A small JSON client for one service's API with its bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._session = aiohttp.ClientSession(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}
        )

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self._session.post(path, json=body) as response:
            payload = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"POST {path} -> {response.status}: {payload}")
            return payload

    async def post_csv(self, path: str, text: str) -> Any:
        """POST ``text`` as a ``text/csv`` body (the members' bulk import)."""
        headers = {"Content-Type": "text/csv; charset=utf-8"}
        async with self._session.post(path, data=text.encode(), headers=headers) as response:
            payload = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"POST {path} -> {response.status}: {payload}")
            return payload

    async def get(self, path: str, attempts: int = 3) -> Any:
        """The JSON at ``path``; asked again if the connection fails (a pooled keep-alive
        connection the server closed just as it was reused: a GET is safe to repeat)."""
        for attempt in range(1, attempts + 1):
            try:
                async with self._session.get(path) as response:
                    payload = await response.json()
                    if response.status >= 400:
                        raise RuntimeError(f"GET {path} -> {response.status}: {payload}")
                    return payload
            except aiohttp.ClientConnectionError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def get_all(self, path: str, **params: str) -> list[Any]:
        """Every item of a paginated list (``items``), following ``next_cursor``."""
        items: list[Any] = []
        query = {"limit": "500", **params}
        while True:
            async with self._session.get(path, params=query) as response:
                payload = await response.json()
                if response.status >= 400:
                    raise RuntimeError(f"GET {path} -> {response.status}: {payload}")
            items += payload["items"]
            if payload["next_cursor"] is None:
                return items
            query = {**query, "cursor": payload["next_cursor"]}

    async def delete(self, path: str) -> None:
        async with self._session.delete(path) as response:
            if response.status >= 400:
                raise RuntimeError(f"DELETE {path} -> {response.status}")

    async def close(self) -> None:
        await self._session.close()


@dataclass
class LocalSystem:
    workdir: Path
    clock: ManualClock
    database_for: DatabaseFor
    notifier_overrides: dict[str, Any] = field(default_factory=dict)
    # Settings every service gets (fields of ServiceSettings, e.g. the HTTP throttle's).
    common_overrides: dict[str, Any] = field(default_factory=dict)
    # Which services run here. A benchmark of one service runs it alone, as in production,
    # where each has its own pods: the others would only take its CPU.
    services: tuple[str, ...] = ("scheduler", "notifier", "insights")
    nats: EmbeddedNatsServer = field(init=False)
    smtp: SmtpSink = field(init=False)
    twilio: FakeTwilio = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    runtimes: dict[str, ServiceRuntime] = field(init=False, default_factory=dict)
    # Per listener: "scheduler", "notifier", "insights" (operators), "notifier-public"
    # (members and SMS providers), "insights-analyst" (analysts).
    ports: dict[str, int] = field(init=False, default_factory=dict)
    # Per listener whose API takes a bearer token, and a client with it: the operators' APIs
    # of the scheduler and the notifier, and the analysts' API of insights.
    tokens: dict[str, str] = field(init=False, default_factory=dict)
    clients: dict[str, ApiClient] = field(init=False, default_factory=dict)
    ticker: Ticker = field(init=False)
    notifier_settings: NotifierSettings = field(init=False)
    insights_settings: InsightsSettings = field(init=False)
    scheduler_settings: SchedulerSettings = field(init=False)

    def _common(self, service: str) -> dict[str, Any]:
        url, schema = self.database_for(service)
        return {
            "environment": Environment.dev,
            "nats_url": self.nats.url,
            "database_url": url,
            "database_schema": schema,
            "http_host": "127.0.0.1",
            "http_port": self._port(service),
            **self.common_overrides,
        }

    def _port(self, listener: str) -> int:
        self.ports[listener] = free_port()
        return self.ports[listener]

    def url(self, listener: str) -> str:
        return f"http://127.0.0.1:{self.ports[listener]}"

    def _token(self, name: str) -> str:
        self.tokens[name] = secrets.token_urlsafe(32)
        return self.tokens[name]

    async def start(self) -> None:
        self.nats = EmbeddedNatsServer(self.workdir / "nats")
        await self.nats.start()
        self.smtp = SmtpSink()
        self.smtp.start()
        self.twilio = FakeTwilio()
        await self.twilio.start()
        scheduler = SchedulerSettings(
            **self._common("scheduler"), operator_token=self._token("scheduler")
        )
        notifier_values: dict[str, Any] = {
            **self._common("notifier"),
            "public_http_port": self._port("notifier-public"),
            "operator_token": self._token("notifier"),
            "link_signing_key": secrets.token_urlsafe(32),
            "respondent_key_secret": secrets.token_urlsafe(32),
            "public_base_url": self.url("notifier-public"),
            "smtp_host": self.smtp.host,
            "smtp_port": self.smtp.port,
            "smtp_security": SmtpSecurity.none,
            "mail_from": "Riverside Neighbours <checkins@rituals.example>",
            "twilio_account_sid": self.twilio.account_sid,
            "twilio_auth_token": self.twilio.auth_token,
            "twilio_from_number": SMS_NUMBER,
            "twilio_base_url": self.twilio.base_url,
            # The fake providers take anything; the tests and the demo move time by hand.
            "email_rate_per_s": 1000,
            "email_burst": 1000,
            "sms_rate_per_s": 1000,
            "sms_burst": 1000,
            # SMS through the fake Twilio unless the overrides choose another provider.
            "sms_provider": "twilio",
        }
        # Any field may be overridden, those above included (say a bench's own Twilio).
        notifier = NotifierSettings(**(notifier_values | self.notifier_overrides))
        self.notifier_settings = notifier
        insights = InsightsSettings(
            **self._common("insights"),
            analyst_http_port=self._port("insights-analyst"),
            analyst_token=self._token("insights-analyst"),
            operator_token=self._token("insights"),
        )
        self.insights_settings = insights
        self.scheduler_settings = scheduler
        scheduler_runtime, self.ticker = wire_scheduler(scheduler, self.clock)
        notifier_runtime, self.dispatcher = wire_notifier(notifier, self.clock)
        built = {
            "scheduler": scheduler_runtime,
            "notifier": notifier_runtime,
            "insights": build_insights(insights, self.clock),
        }
        self.runtimes = {name: built[name] for name in self.services}
        for runtime in self.runtimes.values():
            await runtime.start()
        self.clients = {
            listener: ApiClient(self.url(listener), token)
            for listener, token in self.tokens.items()
        }

    async def advance_to(self, instant: datetime, timeout_s: float = 15.0) -> None:
        """Move the clock to ``instant`` and wait until the scheduler's tick and the notifier's
        queue sweep that fall due by then have run, as they would have in real time.

        Moving the clock several times without waiting would let the scheduler see only the
        last instant, as after an outage (occurrences beyond the misfire grace are missed).
        """
        self.clock.set(instant)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.ticker.owes_tick_at(instant) or self.dispatcher.owes_run_at(instant):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"the services did not catch up with {instant} (scheduler ticked at "
                    f"{self.ticker.last_tick_at}, notifier swept at {self.dispatcher.last_run_at})"
                )
            await asyncio.sleep(0.005)

    async def restart(self, service: str) -> None:
        """Stop a service and start a new process's worth of it on the same database, as after
        a crash, a deployment or a restore from backup (``scheduler`` or ``insights``)."""
        await self.runtimes[service].stop()
        if service == "scheduler":
            self.runtimes[service], self.ticker = wire_scheduler(
                self.scheduler_settings, self.clock
            )
        else:
            self.runtimes[service] = build_insights(self.insights_settings, self.clock)
        await self.runtimes[service].start()

    async def close_week(self, iso_week: str) -> datetime:
        """Move the clock to when ``iso_week``'s anonymised facts leave the notifier for insights
        (``insights_week_close_after_days`` after the week ends); returns that instant."""
        closes = week_closes_at(
            iso_week, timedelta(days=self.notifier_settings.insights_week_close_after_days)
        )
        await self.advance_to(max(closes, self.clock.now()))
        return closes

    async def release_erasures(self) -> datetime:
        """Move the clock to the next daily batch, which carries the day's erasure tombstones."""
        release = next_daily_release(self.clock.now())
        await self.advance_to(release)
        return release

    def sms_webhook(self, kind: str) -> str:
        """Where the configured SMS provider (Twilio unless overridden) posts inbound SMS
        ("inbound") or status callbacks ("status")."""
        provider = self.notifier_settings.sms_provider
        return f"{self.url('notifier-public')}/v1/webhooks/sms/{provider}/{kind}"

    async def stop(self) -> None:
        """Stop whatever was started, in reverse order (also after a failed start)."""
        for client in self.clients.values():
            await client.close()
        self.clients = {}
        for runtime in reversed(list(self.runtimes.values())):
            await runtime.stop()
        self.runtimes = {}
        if hasattr(self, "smtp"):
            self.smtp.stop()
        if hasattr(self, "twilio"):
            await self.twilio.stop()
        if hasattr(self, "nats"):
            await self.nats.close()

    async def __aenter__(self) -> LocalSystem:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
