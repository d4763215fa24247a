"""WHO-5 on the e-mail answer form: asked in week 3 of the rotation by e-mail only, answered on
the form, refused by SMS, and counted by insights for indicator 8 (exact counts, as insights
stores them before any noise)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape

import aiohttp

from services.demo.scenario import Person, form_link, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, LocalSystem
from services.insights.adapters.true_counts import TrueCount, true_counts
from services.insights.domain.indicators import by_code
from services.notifier.domain.questionnaire import ITEMS, WHO5_ITEMS
from shared.contracts import PromptAnsweredV1
from shared.db import create_engine, session_factory
from tests.support import NatsTap, eventually, read_database

WEEK_3_MONDAY = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)  # ISO week 3: 3 % 4 == 3
ANA = Person("Ana", "ana@riverside.example", "Europe/London", True, locale="es")
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
PHONE = SAM.phone or ""
# A bare form link (no preselected answer) in the text part.
FORM_LINK = re.compile(r"(https?://\S+/r/[A-Za-z0-9_.-]+)(?=\s)")
WHO5_KEYS = [item.key for item in WHO5_ITEMS]
ANA_WHO5 = (2, 3, 1, 2, 2)  # raw 10, 40 on 0-100: poor wellbeing


async def _week_3_prompts(system: LocalSystem) -> str:
    """Ana's e-mail and Sam's text of the week-3 check-in; returns Ana's form link."""
    await set_up_weekly_check_in(system, (ANA, SAM), dtstart="2027-01-18T09:00")
    await system.advance_to(WEEK_3_MONDAY)
    (mail,) = await system.smtp.wait_for(1)
    await eventually(lambda: len(system.twilio.to(PHONE)) == 1)
    text, html = mail.text(), mail.html()
    for item in WHO5_ITEMS:
        assert item.prompt("es") in text
        assert escape(item.prompt("es")) in html
    assert "últimas dos semanas" in text
    links = FORM_LINK.findall(text)
    assert links
    return str(links[0])


def _sms_texts(system: LocalSystem) -> list[str]:
    return [message.body for message in system.twilio.to(PHONE)]


async def _reply(system: LocalSystem, body: str) -> int:
    return await system.twilio.send_inbound(system.sms_webhook("inbound"), PHONE, SMS_NUMBER, body)


async def test_the_form_asks_and_records_who5_and_insights_counts_it(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    form_link = await _week_3_prompts(system)
    async with aiohttp.ClientSession() as http:
        async with http.get(form_link) as page:
            assert page.status == 200
            form = await page.text()
        # The instructions once, then each statement with its six answers.
        assert form.count("últimas dos semanas") == 1
        for key in WHO5_KEYS:
            assert escape(ITEMS[key].prompt("es")) in form
            for value in range(6):
                assert f'name="{key}" value="{value}"' in form
        answers = {"ons_loneliness": "3", **dict(zip(WHO5_KEYS, map(str, ANA_WHO5), strict=True))}
        async with http.post(form_link, data=answers) as confirmation:
            assert confirmation.status == 200
            assert "Thank you" in await confirmation.text()
    await eventually(lambda: nats_tap.on(PromptAnsweredV1.subject))

    await system.close_week("2027-W03")

    async def stored() -> list[dict[str, object]]:
        facts = (await read_database(system.database_for, "insights"))["response_facts"]
        return facts if len(facts) == 6 else []

    facts = await eventually(stored)
    assert {(row["item"], row["value"]) for row in facts} == {
        ("ons_loneliness", 3),
        *zip(WHO5_KEYS, ANA_WHO5, strict=True),
    }
    assert {row["iso_week"] for row in facts} == {"2027-W03"}
    assert len({row["respondent_key"] for row in facts}) == 1

    # Indicator 8's exact counts from what insights stored: Ana completed WHO-5 with 10.
    indicator = by_code("poor_wellbeing")
    assert indicator is not None
    (measure,) = indicator.measures.values()
    (cadence,) = indicator.measures
    url, schema = system.database_for("insights")
    engine = create_engine(url, schema)
    try:
        async with session_factory(engine)() as session:
            counts = await true_counts(session, measure, cadence, "2027-P01")
    finally:
        await engine.dispose()
    assert counts == {"riverside": TrueCount(numerator=1, denominator=1)}


async def test_the_text_asks_the_anchor_links_the_form_and_cannot_answer_who5(
    system: LocalSystem,
) -> None:
    await _week_3_prompts(system)
    (prompt,) = _sms_texts(system)
    for item in WHO5_ITEMS:
        assert item.prompt("en") not in prompt
    assert "Reply with one number, 1 to 5." in prompt
    # The week's other questions are on the answer form the text links.
    async with aiohttp.ClientSession() as browser, browser.get(form_link(prompt)) as page:
        assert page.status == 200
        assert "How would you describe your sense of belonging" in await page.text()
    # Three numbers, one per question asked by text, are still understood; eight numbers
    # (the three questions and the five statements) are refused, not guessed.
    assert await _reply(system, "3 2 1 5 5 5 5 5") == 200
    await eventually(lambda: len(_sms_texts(system)) == 2)
    assert "couldn't read that" in _sms_texts(system)[1]
    assert await _reply(system, "3 2 1") == 200
    await eventually(lambda: len(_sms_texts(system)) == 3)
    assert "Thank you" in _sms_texts(system)[2]

    await system.close_week("2027-W03")

    async def stored() -> list[dict[str, object]]:
        facts = (await read_database(system.database_for, "insights"))["response_facts"]
        return facts if len(facts) == 3 else []

    facts = await eventually(stored)
    assert {row["item"] for row in facts} == {
        "ons_loneliness",
        "statcan_belonging",
        "regular_contact",
    }
