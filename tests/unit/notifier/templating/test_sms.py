"""SMS: segments and encoding warnings, the hard maximum, STOP guidance, GSM-7 folding."""

from __future__ import annotations

import pytest

from services.notifier.domain.sms_encoding import analyse_sms
from services.notifier.templating import (
    InMemoryStoredTemplates,
    PromptRenderer,
    RenderPool,
    TemplateProblem,
)
from services.notifier.templating.samples import sample_context
from services.notifier.templating.sms import fold_to_gsm
from tests.unit.notifier.templating.conftest import NOW

TWO_SEGMENTS = "x" * 200 + " Reply STOP to stop."  # 220 GSM-7 characters
FOUR_SEGMENTS = "x" * 500 + " Reply STOP to stop."


async def test_a_short_gsm_text_has_no_warning(renderer: PromptRenderer) -> None:
    assert (
        await renderer.validate("reach_out", "en", "sms", None, "Hi! Reply STOP to stop.", None)
        == []
    )


async def test_more_segments_than_the_threshold_is_a_warning(renderer: PromptRenderer) -> None:
    assert await renderer.validate("reach_out", "en", "sms", None, TWO_SEGMENTS, None) == []
    warnings = await renderer.validate("reach_out", "en", "sms", None, FOUR_SEGMENTS, None)
    assert warnings == ["4 segments (GSM-7): more than 2 cost extra and may arrive out of order"]


async def test_the_threshold_is_configurable(render_pool: RenderPool) -> None:
    strict = PromptRenderer(
        InMemoryStoredTemplates(), sms_warn_segments=1, sms_max_segments=3, pool=render_pool
    )
    warnings = await strict.validate("reach_out", "en", "sms", None, TWO_SEGMENTS, None)
    assert warnings == ["2 segments (GSM-7): more than 1 cost extra and may arrive out of order"]
    with pytest.raises(TemplateProblem, match=r"4 segments \(GSM-7\).*maximum 3"):
        await strict.validate("reach_out", "en", "sms", None, FOUR_SEGMENTS, None)
    with pytest.raises(ValueError, match="sms_warn_segments"):
        PromptRenderer(InMemoryStoredTemplates(), sms_warn_segments=7, sms_max_segments=6)


async def test_a_non_gsm_character_forcing_ucs2_is_a_warning(renderer: PromptRenderer) -> None:
    warnings = await renderer.validate(
        "reach_out", "en", "sms", None, "Thank you 🙂 Reply STOP to stop.", None
    )
    assert warnings == ["UCS-2 encoding (70 characters a segment instead of 160) because of '🙂'"]


async def test_a_text_beyond_the_hard_maximum_is_refused_at_save(renderer: PromptRenderer) -> None:
    body = "{% for i in range(7) %}" + "y" * 153 + "{% endfor %} STOP"
    with pytest.raises(
        TemplateProblem, match=r"8 segments \(GSM-7\) with sample data, more than the maximum 6"
    ):
        await renderer.validate("reach_out", "en", "sms", None, body, None)


async def test_only_some_samples_being_too_long_is_enough_to_refuse(
    renderer: PromptRenderer,
) -> None:
    # Long only when a support focus is set: every sample is rendered, not just one.
    body = "{% if support_focus == 'belonging' %}" + "z" * 1200 + "{% endif %}Hi STOP"
    with pytest.raises(TemplateProblem, match="maximum 6"):
        await renderer.validate("reach_out", "en", "sms", None, body, None)


async def test_rendering_refuses_what_would_exceed_the_maximum(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    await store.put(
        "reach_out", "en", "sms", subject=None, text_body="w" * 1100, html_body=None, now=NOW
    )
    with pytest.raises(TemplateProblem, match="segments, more than the maximum 6"):
        await renderer.render_sms("reach_out", sample_context("reach_out", "en"))


async def test_rendered_sms_reports_what_it_costs(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    await store.put(
        "reach_out",
        "en",
        "sms",
        subject=None,
        text_body="¿Qué tal? Reply STOP",
        html_body=None,
        now=NOW,
    )
    gsm = await renderer.render_sms("reach_out", sample_context("reach_out", "en"))
    assert (gsm.segments, gsm.encoding, gsm.warnings) == (1, "GSM-7", ())
    await store.put(
        "reach_out",
        "en",
        "sms",
        subject=None,
        text_body="¿Cómo estás? Reply STOP",
        html_body=None,
        now=NOW,
    )
    ucs2 = await renderer.render_sms("reach_out", sample_context("reach_out", "en"))
    assert (ucs2.segments, ucs2.encoding) == (1, "UCS-2")
    assert ucs2.warnings == (
        "UCS-2 encoding (70 characters a segment instead of 160) because of 'ó', 'á'",
    )


async def test_prompts_always_say_how_to_stop(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    warnings = await renderer.validate("gratitude", "es", "sms", None, "Gracias.", None)
    assert "the text does not say how to stop (STOP); a standard line is added" in warnings
    await store.put(
        "gratitude", "es", "sms", subject=None, text_body="Gracias.", html_body=None, now=NOW
    )
    sms = await renderer.render_sms("gratitude", sample_context("gratitude", "es"))
    # An added line never turns GSM-7 into UCS-2 (and the Spanish one needs no folding).
    assert sms.text == "Gracias. Responde STOP para salir."
    assert sms.encoding == "GSM-7"
    await store.put(
        "gratitude", "es", "sms", subject=None, text_body="¡Sí!", html_body=None, now=NOW
    )
    ucs2 = await renderer.render_sms("gratitude", sample_context("gratitude", "es"))
    assert ucs2.text == "¡Sí! Responde STOP para salir."


async def test_service_texts_are_not_given_a_stop_line(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    assert await renderer.validate("sms_answer_thanks", "en", "sms", None, "Thanks!", None) == []
    await store.put(
        "sms_answer_thanks", "en", "sms", subject=None, text_body="Thanks!", html_body=None, now=NOW
    )
    sms = await renderer.render_sms("sms_answer_thanks", sample_context("sms_answer_thanks", "en"))
    assert sms.text == "Thanks!"


def test_folding_keeps_spanish_gsm_letters_and_drops_only_what_gsm_lacks() -> None:
    text = "¿Cuántas personas? ¡Qué día! Niño, pingüino, \u201csí\u201d\u2026 \u2013 también"
    folded = fold_to_gsm(text)
    assert folded == '¿Cuantas personas? ¡Qué dia! Niño, pingüino, "si"... - también'
    assert analyse_sms(folded).encoding.value == "GSM-7"
    assert analyse_sms(text).encoding.value == "UCS-2"
    assert fold_to_gsm("emoji 🙂 stays") == "emoji 🙂 stays"


async def test_a_template_opts_into_folding_with_a_filter_block(renderer: PromptRenderer) -> None:
    body = "{% filter gsm %}¿Cuántas? Responde STOP.{% endfilter %}"
    assert await renderer.validate("reach_out", "es", "sms", None, body, None) == []
    warnings = await renderer.validate("reach_out", "es", "sms", None, "¿Cuántas? STOP", None)
    assert warnings == ["UCS-2 encoding (70 characters a segment instead of 160) because of 'á'"]


@pytest.mark.parametrize(
    ("subject", "html", "reason"),
    [("Hi", None, "no subject or HTML"), (None, "<p>x</p>", "no subject or HTML")],
)
async def test_sms_templates_have_a_body_only(
    renderer: PromptRenderer, subject: str | None, html: str | None, reason: str
) -> None:
    with pytest.raises(TemplateProblem, match=reason):
        await renderer.validate("reach_out", "en", "sms", subject, "Hi STOP", html)


async def test_an_empty_body_or_unknown_channel_is_refused(renderer: PromptRenderer) -> None:
    with pytest.raises(TemplateProblem, match="must not be empty"):
        await renderer.validate("reach_out", "en", "sms", None, "  \n", None)
    with pytest.raises(TemplateProblem, match="channel must be one of email, sms"):
        await renderer.validate("reach_out", "en", "fax", None, "Hi", None)
