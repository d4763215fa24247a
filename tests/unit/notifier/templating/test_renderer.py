"""Rendering e-mails: HTML escaping, reminders, unsubscribe links, one-line subjects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from services.notifier.domain.questionnaire import ANCHOR, MODULES, Item, Option, Questionnaire
from services.notifier.templating import (
    InMemoryStoredTemplates,
    PromptContext,
    PromptRenderer,
    TemplateProblem,
)
from services.notifier.templating.samples import sample_context
from tests.unit.notifier.templating.conftest import NOW

HOSTILE = '<script>alert(1)</script> & "friends"'


def _hostile_questionnaire() -> Questionnaire:
    item = Item(
        key="hostile",
        prompts=MappingProxyType({"en": f"Prompt {HOSTILE}?"}),
        options=(Option(1, MappingProxyType({"en": HOSTILE})),),
        instrument="test",
    )
    return Questionnaire("weekly_w0", (item,))


async def test_html_is_escaped_and_text_is_not(renderer: PromptRenderer) -> None:
    ctx = replace(
        sample_context("check_in", "en"),
        questionnaire=_hostile_questionnaire(),
        option_urls={"hostile": {1: "https://rituals.example/r/t?a=1&hostile=1"}},
    )
    email = await renderer.render_email("check_in", ctx)
    assert HOSTILE in email.text
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;friends&#34;" in email.html
    assert 'href="https://rituals.example/r/t?a=1&amp;hostile=1"' in email.html


async def test_a_stored_html_part_is_escaped_too(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    await store.put(
        "reach_out",
        "en",
        "email",
        subject="{{ questions[0].options[0].label }}",
        text_body="{{ questions[0].options[0].label }}",
        html_body="<p>{{ questions[0].options[0].label }}</p>",
        now=NOW,
    )
    ctx = replace(sample_context("reach_out", "en"), questionnaire=_hostile_questionnaire())
    email = await renderer.render_email("reach_out", ctx)
    assert email.subject == HOSTILE
    assert email.text.startswith(HOSTILE)
    assert email.html.startswith("<p>&lt;script&gt;")


async def test_a_reminder_uses_the_nudge_template(renderer: PromptRenderer) -> None:
    email = await renderer.render_email(
        "check_in", sample_context("check_in", "en", nudge_number=1)
    )
    assert email.subject == "A gentle reminder: this week's check-in"


async def test_without_a_nudge_template_the_prompt_is_sent_as_a_gentle_reminder(
    renderer: PromptRenderer,
) -> None:
    ctx = sample_context("gratitude", "es", nudge_number=2)
    email = await renderer.render_email("gratitude", ctx)
    assert email.subject.startswith("Un recordatorio amable: El ritual de conexión")
    assert email.text.startswith("Un recordatorio amable, por si se te pasó.\n\nHola:")
    assert "<p><em>Un recordatorio amable, por si se te pasó.</em></p>" in email.html
    sms = await renderer.render_sms("gratitude", replace(ctx, locale="en"))
    assert sms.text.startswith("Gentle reminder: This week's connection ritual")


async def test_a_nudge_key_is_not_doubled(renderer: PromptRenderer) -> None:
    ctx = sample_context("check_in", "en", nudge_number=1)
    same = await renderer.render_sms("check_in_nudge", ctx)
    assert same == await renderer.render_sms("check_in", ctx)


async def test_the_unsubscribe_link_is_added_when_a_template_leaves_it_out(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    warnings = await renderer.validate("reach_out", "en", "email", "Hi", "Hello", "<p>Hello</p>")
    assert warnings == [
        "the text part does not show unsubscribe_url; a standard line is added",
        "the HTML part does not link unsubscribe_url; a standard line is added",
    ]
    await store.put(
        "reach_out",
        "en",
        "email",
        subject="Hi",
        text_body="Hello",
        html_body="<html><body><p>Hello</p></body></html>",
        now=NOW,
    )
    ctx = replace(
        sample_context("reach_out", "en"), unsubscribe_url="https://r.example/u/x?a=1&b=2"
    )
    email = await renderer.render_email("reach_out", ctx)
    assert email.text == "Hello\n\nTo stop these e-mails: https://r.example/u/x?a=1&b=2"
    assert email.html == (
        '<html><body><p>Hello</p><p style="font-size:small">'
        '<a href="https://r.example/u/x?a=1&amp;b=2">Stop these e-mails</a></p>\n</body></html>'
    )
    no_link = await renderer.render_email("reach_out", replace(ctx, unsubscribe_url=None))
    assert no_link.text == "Hello"


async def test_without_an_html_part_one_is_made_from_the_text(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    warnings = await renderer.validate(
        "reach_out", "es", "email", "Hola", "Hola <amigo>\n\n{{ unsubscribe_url }}", None
    )
    assert warnings == ["no HTML part: one is made from the text"]
    await store.put(
        "reach_out",
        "es",
        "email",
        subject="Hola",
        text_body="Hola <amigo>\nadiós",
        html_body=None,
        now=NOW,
    )
    ctx = replace(sample_context("reach_out", "es"), unsubscribe_url=None)
    email = await renderer.render_email("reach_out", ctx)
    assert '<html lang="es">' in email.html
    assert "<p>Hola &lt;amigo&gt;<br>adiós</p>" in email.html


async def test_a_subject_is_always_one_line(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    await store.put(
        "reach_out",
        "en",
        "email",
        subject="Hi\r\nBcc: everyone@example.org\n  there",
        text_body="x",
        html_body=None,
        now=NOW,
    )
    email = await renderer.render_email("reach_out", sample_context("reach_out", "en"))
    assert email.subject == "Hi Bcc: everyone@example.org there"


async def test_a_missing_template_is_a_clear_problem(renderer: PromptRenderer) -> None:
    with pytest.raises(TemplateProblem, match="no email template 'sms_help' for locale 'en'"):
        await renderer.render_email("sms_help", sample_context("sms_help", "en"))
    with pytest.raises(TemplateProblem, match="no sms template 'nonexistent'"):
        await renderer.render_sms(
            "nonexistent", sample_context("nonexistent", "en", nudge_number=1)
        )


@pytest.mark.parametrize("missing", ["subject", "text"])
async def test_an_email_needs_a_subject_and_a_body(renderer: PromptRenderer, missing: str) -> None:
    subject = None if missing == "subject" else "Hi"
    body = "" if missing == "text" else "Hello"
    with pytest.raises(TemplateProblem):
        await renderer.validate("reach_out", "en", "email", subject, body, None)


def test_a_context_is_checked_where_it_is_made() -> None:
    base = sample_context("check_in", "en")
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(base, respond_by=datetime(2027, 1, 6, 9, 0))  # naive on purpose
    with pytest.raises(ValueError, match="ritual_kind"):
        replace(base, ritual_kind="party")
    with pytest.raises(ValueError, match="support_focus"):
        replace(base, support_focus="financial")
    with pytest.raises(ValueError, match="nudge_number"):
        replace(base, nudge_number=-1)


async def test_the_variables_templates_see(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    body = (
        "{{ kind }}|{{ nudge_number }}|{{ is_reminder }}|{{ support_focus }}|{{ language }}|"
        "{{ question_count }}|{{ questionnaire_key }}|{{ sms_example }}|"
        "{% for q in questions %}{{ q.number }}:{{ q.key }}:{{ q.same_scale_as_next }} "
        "{% endfor %}|"
        "{{ questions[1].scale }}"
    )
    await store.put("ritual", "es", "sms", subject=None, text_body=body, html_body=None, now=NOW)
    ctx = PromptContext(
        questionnaire=Questionnaire("weekly_w0", (ANCHOR, *MODULES[0])),
        locale="es-MX",
        timezone="America/Mexico_City",
        respond_by=datetime(2027, 1, 6, 15, 0, tzinfo=UTC),
        answer_url=None,
        option_urls={},
        unsubscribe_url=None,
        ritual_kind="check_in",
        nudge_number=0,
        support_focus="belonging",
    )
    sms = await renderer.render_sms("ritual", ctx)
    assert sms.text == (
        "check_in|0|False|belonging|es|4|weekly_w0|4 3 2 1|"
        "1:ons_loneliness:False 2:ucla_companionship:True 3:ucla_left_out:True "
        "4:ucla_isolated:False |1=Casi nunca, 2=Algunas veces, 3=A menudo "
        "Responde STOP para salir."
    )
