"""The real path: scheduler -> JetStream -> notifier -> SMTP -> signed link -> insights.

Real nats-server (the wheel's), real aiosmtpd, the three services as in production, the test
database (PostgreSQL under CI). Time moves on a ManualClock; nothing sleeps for a schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from services.demo.scenario import Person, answer, answer_links, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.clock import ManualClock
from tests.support import NatsTap, eventually, weekly_answers

ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
CHEN = Person("Chen", "chen@riverside.example", "America/New_York", shares_answers=True)
ELI = Person("Eli", "eli@riverside.example", "Europe/London", shares_answers=False)


async def test_a_due_check_in_is_emailed_rendered_and_its_answer_is_counted(
    system: LocalSystem, clock: ManualClock, nats_tap: NatsTap
) -> None:
    community = await set_up_weekly_check_in(system, (ANA, CHEN, ELI))

    # Monday 09:00 in London is 09:00Z in January; nothing before it.
    clock.set(datetime(2027, 1, 4, 8, 59, tzinfo=UTC))
    assert system.smtp.messages == []
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    london = await system.smtp.wait_for(2)
    assert sorted(m.envelope_to[0] for m in london) == [ANA.email, ELI.email]
    assert len(system.smtp.messages) == 2  # Chen's 09:00 is 14:00Z: not yet

    mail = next(m for m in london if m.envelope_to[0] == ANA.email)
    # ISO week 1 of 2027: the anchor question plus the emotional and informational support
    # module (ISO week % 4 == 1).
    assert mail.subject == "Your weekly check-in: 3 quick questions"
    assert "How often do you feel lonely?" in mail.text()
    assert "Please reply by Wednesday 6 January, 09:00." in mail.text()
    assert "How often do you get the social and emotional support you need?" in mail.text()
    assert "How often do you get the social and emotional support you need?" in mail.html()
    assert sorted(answer_links(mail)) == [1, 2, 3, 4, 5]

    clock.set(datetime(2027, 1, 4, 14, 0, tzinfo=UTC))
    await system.smtp.wait_for(3)
    chen_mail = system.smtp.to(CHEN.email)[0]
    assert "Please reply by Wednesday 6 January, 09:00." in chen_mail.text()  # 09:00 EST

    async with aiohttp.ClientSession() as browser:
        assert "Thank you" in await answer(browser, mail, 2)
        assert "already have your answer" in await answer(browser, mail, 4)
        await answer(browser, chen_mail, 5)
        await answer(browser, system.smtp.to(ELI.email)[0], 1)  # did not consent to share

    # Anonymised facts wait for the week to close, then leave together.
    await eventually(lambda: len(nats_tap.on("prompts.answered.v1")) == 3)
    assert nats_tap.on("responses.received.v2") == []
    await system.close_week("2027-W01")
    counts = await eventually(lambda: _counts_when(system, community.id, responses=2), timeout_s=15)
    assert counts == [{"iso_week": "2027-W01", "responses": 2, "respondents": 2}]

    # The events on the wire: one RitualDue per member, one PromptSent each, two responses.
    assert len(nats_tap.on("rituals.due.v1")) == 3
    await eventually(lambda: len(nats_tap.on("prompts.sent.v1")) == 3)
    assert len(nats_tap.on("responses.received.v2")) == 2


async def _counts_when(
    system: LocalSystem, community_id: str, responses: int
) -> list[dict[str, object]] | None:
    rows = await weekly_answers(system, community_id)
    return rows if sum(int(str(r["responses"])) for r in rows) >= responses else None


async def test_each_occurrence_is_sent_once_across_weeks_and_redelivery(
    system: LocalSystem, clock: ManualClock
) -> None:
    await set_up_weekly_check_in(system, (ANA,))
    for week in range(3):
        clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC) + timedelta(weeks=week))
        await system.smtp.wait_for(week + 1)
    # Ticks after the last occurrence send nothing more.
    clock.advance(timedelta(days=6))
    await system.runtimes["scheduler"].plumbing.broker.ping(timeout=1)
    assert [m.message["Date"] is not None for m in system.smtp.messages] == [True] * 3
    message_ids = {str(m.message["Message-ID"]) for m in system.smtp.messages}
    assert len(message_ids) == 3


async def test_health_endpoints_answer(system: LocalSystem) -> None:
    async with aiohttp.ClientSession() as http:
        for name, port in system.ports.items():
            async with http.get(f"http://127.0.0.1:{port}/health/ready") as response:
                body = await response.json()
                assert response.status == 200, (name, body)
                assert body["checks"] == {"nats": "ok", "database": "ok"}


async def test_apis_refuse_requests_without_the_operator_token(system: LocalSystem) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{system.ports['scheduler']}/v1/schedule/upcoming"
        async with http.get(url) as response:
            assert response.status == 401
        async with http.get(url, headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
