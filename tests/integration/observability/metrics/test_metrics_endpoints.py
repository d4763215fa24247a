"""Each service's ``/metrics`` (on its operators' listener) after a prompt went out: the
series the runbook and the alerts use, with values that follow what happened, and nothing
personal in them."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import nats
from prometheus_client.parser import text_string_to_metric_families

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.clock import ManualClock
from tests.support import eventually

ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
ELI = Person("Eli", "eli@riverside.example", "Europe/London", shares_answers=False)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(system: LocalSystem, listener: str) -> tuple[str, Samples]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{system.url(listener)}/metrics") as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


async def test_each_service_exposes_its_series_after_a_prompt_went_out(
    system: LocalSystem, clock: ManualClock
) -> None:
    community = await set_up_weekly_check_in(system, (ANA, ELI))
    # Monday 09:00 London is due; the services catch up 42 s late on the injected clock.
    await system.advance_to(datetime(2027, 1, 4, 9, 0, 42, tzinfo=UTC))
    mails = await system.smtp.wait_for(2)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, next(m for m in mails if m.envelope_to[0] == ANA.email), 2)

    # A malformed RitualDue: the notifier dead-letters it.
    client = await nats.connect(system.nats.url)
    try:
        await client.jetstream().publish(
            "rituals.due.v1", b"{not json", headers={"Nats-Msg-Id": "obs-malformed"}
        )
    finally:
        await client.close()

    async def notifier_settled() -> Samples:
        _, found = await scrape(system, "notifier")
        ready = value(found, "rituals_dead_letters_total", subject="rituals.due.v1") == 1
        return (
            found
            if ready and value(found, "rituals_outbox_backlog", service="notifier") == 0
            else {}
        )

    notifier = await eventually(notifier_settled)
    assert value(notifier, "rituals_notifier_sent_total", channel="email") == 2
    assert value(notifier, "rituals_notifier_sent_total", channel="sms") == 0
    # Every failure series is there from the start (alerts need no "absent" special case).
    for reason in ("no_consent", "opted_out", "rejected_permanently", "retries_exhausted"):
        assert value(notifier, "rituals_notifier_failed_total", channel="email", reason=reason) == 0
    # Lateness on the injected clock: both handed over 42 s after 09:00.
    assert value(notifier, "rituals_due_to_handover_seconds_count", channel="email") == 2
    assert value(notifier, "rituals_due_to_handover_seconds_sum", channel="email") == 84
    assert (
        value(notifier, "rituals_due_to_handover_seconds_bucket", channel="email", le="30.0") == 0
    )
    assert (
        value(notifier, "rituals_due_to_handover_seconds_bucket", channel="email", le="60.0") == 2
    )
    assert (
        value(notifier, "rituals_consumer_lag", stream="RITUALS", consumer="notifier-ritual-due")
        == 0
    )
    assert (
        value(notifier, "rituals_consumer_lag", stream="RITUALS", consumer="notifier-nudge-due")
        is not None
    )

    # The scheduler: what it emitted, its consumers (FastStream subscribers) and its outbox.
    async def scheduler_settled() -> Samples:
        _, found = await scrape(system, "scheduler")
        lag = value(
            found, "rituals_consumer_lag", stream="PROMPTS", consumer="scheduler-prompt-sent"
        )
        return (
            found
            if lag == 0 and value(found, "rituals_outbox_backlog", service="scheduler") == 0
            else {}
        )

    scheduler = await eventually(scheduler_settled)
    assert value(scheduler, "rituals_scheduler_occurrences_emitted_total") == 2
    assert value(scheduler, "rituals_dead_letters_total", subject="rituals.due.v1") == 0
    # The two PromptSents: taken by the scheduler's batch consumer (it pulls with nats-py, so
    # it shows in the lag and the pending acks, not in FastStream's series): none left to
    # deliver (the lag above), none delivered and not acknowledged. What the stream
    # acknowledged, by subject: the two RitualDues the outbox relay published.
    assert (
        value(
            scheduler,
            "rituals_consumer_ack_pending",
            stream="PROMPTS",
            consumer="scheduler-prompt-sent",
        )
        == 0
    )
    assert value(scheduler, "rituals_published_total", subject="rituals.due.v1") == 2

    # Insights: a release after the week closed, and what it spent of the community's budget.
    closed_at = await system.close_week("2027-W01")

    spent = system.insights_settings.release_rho_week

    async def insights_released() -> Samples:
        _, found = await scrape(system, "insights")
        left = value(found, "rituals_insights_budget_remaining", community=community.id)
        released = value(found, "rituals_insights_releases_total", cadence="week") == 1
        return found if released and left is not None and abs(left - (2 - spent)) < 1e-9 else {}

    insights = await eventually(insights_released, timeout_s=60)
    assert value(insights, "rituals_insights_budget_limit") == 2.0
    # The release was computed at the week's close, on the injected clock.
    assert (
        value(insights, "rituals_insights_last_release_timestamp_seconds") == closed_at.timestamp()
    )
    assert value(insights, "rituals_insights_releases_total", cadence="period") == 0
    assert (
        value(
            insights, "rituals_consumer_lag", stream="RESPONSES", consumer="insights-responses-v2"
        )
        == 0
    )

    # Nothing personal in any of them: no member id, no address.
    personal = [*community.member_ids.values(), ANA.email, ELI.email]
    for listener in ("scheduler", "notifier", "insights"):
        text, _ = await scrape(system, listener)
        assert [p for p in personal if p in text] == []


async def test_metrics_are_served_on_the_operators_listener_only(system: LocalSystem) -> None:
    async with aiohttp.ClientSession() as http:
        for listener in ("notifier-public", "insights-analyst"):
            async with http.get(f"{system.url(listener)}/metrics") as response:
                assert response.status == 404
