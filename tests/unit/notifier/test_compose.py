from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from html import escape
from urllib.parse import parse_qs, urlsplit

import pytest

from services.notifier.domain.prompt_job import PromptJob
from services.notifier.domain.questionnaire import ITEMS, WHO5_ITEMS
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import (
    ANSWER_PURPOSE,
    UNSUBSCRIBE_PURPOSE,
    EmailPolicy,
    TemplatedComposer,
)
from services.notifier.templating import InMemoryStoredTemplates, PromptRenderer
from shared.contracts import RitualKind

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
POLICY = EmailPolicy(
    mail_from="Riverside <checkins@rituals.example>",
    message_id_domain="rituals.example",
    public_base_url="https://rituals.example",
    late_answer_grace=timedelta(days=7),
)
SIGNER = LinkSigner(b"k" * 32)
DELIVERY = "11111111-2222-3333-4444-555555555555"
ORIGINAL = "99999999-2222-3333-4444-555555555555"


WEEK_3 = date(2027, 1, 18)  # ISO week 3: belonging, regular contact and, by e-mail, WHO-5


def job(nudge_number: int = 0, day: date = date(2027, 1, 4)) -> PromptJob:
    return PromptJob(
        send_event_id="aaaaaaaa-2222-3333-4444-555555555555",
        due_event_id="bbbbbbbb-2222-3333-4444-555555555555",
        nudge_number=nudge_number,
        member_id="mbr_AbCdEfGhIjKlMnOp",
        community_id="riverside",
        ritual_id="riverside-monday",
        ritual_kind=RitualKind.check_in,
        template_key="check_in",
        item_key="weekly_w1",
        occurrence_at=NOW,
        occurrence_local_date=day,
        respond_by=NOW + timedelta(days=2),
        timezone="America/New_York",
        answers_delivery_id=ORIGINAL if nudge_number else None,
    )


def composer() -> TemplatedComposer:
    return TemplatedComposer(PromptRenderer(InMemoryStoredTemplates()), SIGNER, POLICY)


async def compose(
    to: str = "ana@example.org",
    nudge_number: int = 0,
    day: date = date(2027, 1, 4),
    locale: str = "en-GB",
) -> EmailMessage:
    outgoing = await composer().email(job(nudge_number, day), DELIVERY, to, locale, NOW)
    return outgoing.parsed()


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    return text, html


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


async def test_headers_identify_the_delivery_and_offer_one_click_unsubscribe() -> None:
    message = await compose()
    assert message["Message-ID"] == f"<{DELIVERY}@rituals.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(message["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.startswith("https://rituals.example/u/")
    assert SIGNER.verify(_token(unsubscribe), UNSUBSCRIBE_PURPOSE, NOW) == "mbr_AbCdEfGhIjKlMnOp"
    assert (await compose())["Message-ID"] == message["Message-ID"]  # stable per delivery


def _links(message: EmailMessage) -> list[str]:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    return re.findall(r"https://rituals\.example/r/\S+", text)


async def test_answer_links_are_signed_for_the_delivery_they_answer() -> None:
    links = _links(await compose())
    assert links
    assert {SIGNER.verify(_token(link), ANSWER_PURPOSE, NOW) for link in links} == {DELIVERY}
    nudge_links = _links(await compose(nudge_number=1))
    # A nudge's links answer the prompt it nudges.
    assert {SIGNER.verify(_token(link), ANSWER_PURPOSE, NOW) for link in nudge_links} == {ORIGINAL}


async def test_text_and_html_parts_with_the_deadline_in_the_members_zone() -> None:
    message = await compose()
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    # Respond by 09:00 UTC + 48 h = Wednesday 6 January, 04:00 in New York.
    assert "6 January" in text
    assert "04:00" in text
    assert "<html" in html.lower()
    assert "How often do you feel lonely?" in html


async def test_a_header_value_with_a_line_break_cannot_inject_a_header() -> None:
    with pytest.raises(ValueError, match=r"[Hh]eader"):
        await compose(to="ana@example.org\r\nBcc: everyone@example.org")


@pytest.mark.parametrize(
    ("locale", "instructions"), [("en", "last two weeks"), ("es", "dos semanas")]
)
@pytest.mark.parametrize("nudge_number", [0, 1])
async def test_the_who5_week_email_lists_the_statements_and_links_the_form(
    locale: str, instructions: str, nudge_number: int
) -> None:
    message = await compose(nudge_number=nudge_number, day=WEEK_3, locale=locale)
    text, html = _parts(message)
    for item in WHO5_ITEMS:
        assert item.prompt(locale) in text
        assert escape(item.prompt(locale)) in html
    for option in WHO5_ITEMS[0].options:  # the answers, shown once for the five
        assert option.label(locale) in text
        assert escape(option.label(locale)) in html
    assert instructions in text
    assert instructions in html
    if nudge_number == 0:
        assert " 8 " in str(message["Subject"])  # the three questions and five statements
    # One-tap links for the questions every channel asks; WHO-5 is answered on the form,
    # which the e-mail links (the bare form link, no preselected answer).
    links = _links(message)
    chosen = {key for link in links for key in parse_qs(urlsplit(link).query)}
    assert chosen == {"ons_loneliness", "statcan_belonging", "regular_contact"}
    assert any("?" not in link for link in links)


@pytest.mark.parametrize("locale", ["en", "es"])
async def test_the_sms_asks_the_anchor_and_links_the_form_for_the_rest(locale: str) -> None:
    sms = await composer().sms(job(day=WEEK_3), DELIVERY, locale, NOW)
    # The anchor by text, answered with one number; the week's other questions (and, on
    # the form, WHO-5) by the signed answer link, which the text carries once.
    assert ITEMS["ons_loneliness"].prompt(locale) in sms.text
    for key in ("statcan_belonging", "regular_contact"):
        assert ITEMS[key].prompt(locale) not in sms.text
    for item in WHO5_ITEMS:
        assert item.prompt(locale) not in sms.text
    links = re.findall(r"https://\S+", sms.text)
    assert len(links) == 1
    assert "?" not in links[0]  # the bare form, no preselected answer
    assert SIGNER.verify(_token(links[0]), ANSWER_PURPOSE, NOW) == DELIVERY
    assert ("Reply with one number, 1 to 5." if locale == "en" else "del 1 al 5.") in sms.text


async def test_a_sms_reminder_asks_the_anchor_without_a_link() -> None:
    sms = await composer().sms(job(nudge_number=1, day=WEEK_3), DELIVERY, "en", NOW)
    assert ITEMS["ons_loneliness"].prompt("en") in sms.text
    assert "http" not in sms.text


async def test_other_weeks_email_asks_no_who5() -> None:
    for week in range(4):
        day = WEEK_3 + timedelta(weeks=week)
        text, _ = _parts(await compose(day=day))
        assert (WHO5_ITEMS[0].prompt("en") in text) == (day.isocalendar().week % 4 == 3)
