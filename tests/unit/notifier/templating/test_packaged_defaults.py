"""The packaged defaults: complete in English and Spanish, kind, safe, and what they cost.

Every template is rendered with every sample of its channel (each module week, prompt and
reminders, each support focus, with and without links) in every channel and locale; an e-mail's
samples ask the form-only WHO-5 statements in week 3 of the rotation, an SMS's never do.
"""

from __future__ import annotations

import re
from html import escape

import pytest

from services.notifier.domain.questionnaire import ITEMS, MODULES
from services.notifier.templating import (
    PromptContext,
    PromptRenderer,
)
from services.notifier.templating.packaged import PACKAGED_TEMPLATE_DIR, PackagedTemplates
from services.notifier.templating.samples import sample_context, sample_contexts
from services.notifier.templating.sms import fold_to_gsm
from services.notifier.templating.sources import is_service_key
from shared.contracts import Channel

PROMPT_KEYS = {
    "check_in",
    "check_in_nudge",
    "reach_out",
    "gratitude",
    "shared_activity",
    "group_event",
}
SERVICE_KEYS = {
    "sms_opt_out_confirmation",
    "sms_opt_in_confirmation",
    "sms_help",
    "sms_answer_thanks",
    "sms_answer_invalid",
}
ENTRIES = PackagedTemplates().entries()


def test_every_key_is_shipped_in_english_and_spanish_in_its_channels() -> None:
    packaged = PackagedTemplates()
    assert set(packaged.template_keys()) == PROMPT_KEYS | SERVICE_KEYS
    for key in PROMPT_KEYS:
        assert packaged.channels(key) == ("email", "sms")
        assert packaged.locales(key) == ("en", "es")
    for key in SERVICE_KEYS:
        assert packaged.channels(key) == ("sms",)
        assert packaged.locales(key) == ("en", "es")
    for key, locale, channel in ENTRIES:
        if channel == "email":
            source = packaged.get(key, locale, channel)
            assert source is not None
            assert source.html_body is not None, f"{key}/{locale} has no body.html"


def test_nothing_shipped_speaks_of_diagnosis() -> None:
    for path in PACKAGED_TEMPLATE_DIR.rglob("*"):
        if path.is_file():
            assert "diagnos" not in path.read_text(encoding="utf-8").lower(), path


@pytest.mark.parametrize(("key", "locale", "channel"), ENTRIES)
async def test_every_default_passes_the_checks_a_saved_template_must_pass(
    renderer: PromptRenderer, key: str, locale: str, channel: str
) -> None:
    source = renderer.packaged.get(key, locale, channel)
    assert source is not None
    warnings = await renderer.validate(
        key, locale, channel, source.subject, source.text_body, source.html_body
    )
    if key == "check_in" and channel == "sms":
        # The link to the answer form for the week's other questions costs a third segment.
        assert warnings == [
            "3 segments (GSM-7): more than 2 cost extra and may arrive out of order"
        ]
    elif (key, locale, channel) == ("reach_out", "es", "sms"):
        # Some of its Spanish needs an accent GSM-7 lacks: UCS-2, still within two segments.
        assert warnings
        assert all(w.startswith("UCS-2 encoding (70 characters a segment") for w in warnings)
    else:
        assert warnings == []


def _nudges(key: str) -> tuple[int, ...]:
    if is_service_key(key):
        return (0,)
    return (1, 2) if key.endswith("_nudge") else (0, 1, 2)


def _check_email(key: str, ctx: PromptContext, subject: str, text: str, html: str) -> None:
    assert subject.strip()
    assert "\n" not in subject
    assert html.startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    if ctx.unsubscribe_url:
        assert ctx.unsubscribe_url in text
        assert escape(ctx.unsubscribe_url) in html
    for part in (subject, text, html):
        assert "diagnos" not in part.lower()
    if ctx.questionnaire is not None:
        for position, question in enumerate(ctx.questionnaire.items):
            assert question.prompt(ctx.locale) in text
            assert escape(question.prompt(ctx.locale)) in html
            intro = ctx.questionnaire.intro_before(position, ctx.locale)
            if intro is not None:
                assert intro in text
                assert escape(intro) in html
            for option in question.options:
                assert escape(option.label(ctx.locale)) in html
                assert option.label(ctx.locale) in text
                url = ctx.option_urls.get(question.key, {}).get(option.value)
                if url:
                    assert url in text
                    assert f'href="{escape(url)}"' in html
        if ctx.answer_url:
            assert ctx.answer_url in text
            assert f'href="{escape(ctx.answer_url)}"' in html
    if key == "check_in" and ctx.nudge_number == 0:
        professional = "professional" if ctx.locale == "en" else "profesional"
        assert professional in text
        assert professional in html


@pytest.mark.parametrize(("key", "locale", "channel"), ENTRIES)
async def test_every_default_renders_for_every_sample(
    renderer: PromptRenderer, key: str, locale: str, channel: str
) -> None:
    # Rendered through the same lookup a send uses: the prompt key, nudges and all.
    send_key = key.removesuffix("_nudge")
    count = 0
    sampled: set[str] = set()
    for ctx in sample_contexts(key, locale, _nudges(key), channel=Channel(channel)):
        count += 1
        sampled |= {item.key for item in ctx.questionnaire.items} if ctx.questionnaire else set()
        if channel == "email":
            email = await renderer.render_email(send_key, ctx)
            _check_email(key, ctx, email.subject, email.text, email.html)
            continue
        sms = await renderer.render_sms(send_key, ctx)
        assert sms.segments <= renderer.sms_max_segments
        assert "diagnos" not in sms.text.lower()
        # SMS defaults spend characters on one link only: the check-in's answer form, for the
        # week's questions beyond the anchor.
        links = re.findall(r"https?://\S+", sms.text)
        if key == "check_in" and ctx.nudge_number == 0 and ctx.answer_url and ctx.questionnaire:
            assert links == [ctx.answer_url]
        else:
            assert links == []
        if not is_service_key(key):
            assert sms.text.endswith(
                (
                    "Reply STOP to stop.",
                    "Responde STOP para salir.",
                )
            )
        if ctx.questionnaire is not None and (
            key.startswith("check_in") or key == "sms_answer_invalid"
        ):
            # A text asks the anchor alone, answered with one number in its range, which
            # parses as the anchor's answer; the week's other questions are on the form.
            anchor, *others = ctx.questionnaire.items
            first, last = anchor.values[0], anchor.values[-1]
            if ctx.nudge_number == 0:  # a reminder states the scale and "one number helps"
                assert f"{first} {'to' if locale == 'en' else 'al'} {last}" in sms.text
            assert ctx.questionnaire.parse_numbers((last,)) == {anchor.key: last}
            if key.startswith("check_in"):
                assert anchor.prompt(locale) in sms.text  # as written, accents and all
                assert not [q for q in others if q.prompt(locale) in sms.text]
    assert count >= 10
    # Check-in e-mails are checked with the WHO-5 statements (week 3); texts never ask them.
    who5 = {key for key, item in ITEMS.items() if item.instrument == "WHO-5"}
    asks_who5 = key.startswith("check_in") and channel == "email"
    assert (who5 <= sampled) == asks_who5
    assert not (who5 & sampled) or asks_who5


async def test_the_service_texts_say_what_they_must(renderer: PromptRenderer) -> None:
    async def text(key: str, locale: str, module: int | None = None) -> str:
        ctx = sample_context(key, locale, module=module)
        return (await renderer.render_sms(key, ctx)).text

    assert "START" in await text("sms_opt_out_confirmation", "en")
    assert "START" in await text("sms_opt_out_confirmation", "es")
    for locale, confidential in (("en", "confidential"), ("es", "confidenciales")):
        help_text = await text("sms_help", locale)
        assert "STOP" in help_text
        assert confidential in help_text
    assert "Please reply with one number, 1 to 5." in await text(
        "sms_answer_invalid", "en", module=0
    )
    assert "Responde con una cifra del 1 al 5." in await text("sms_answer_invalid", "es", module=1)
    assert "e.g. 4 2 1" in await text("sms_answer_invalid", "en")


# What the default SMS cost with the (pessimistic) samples, links included, per module week
# w0..w3 for the check-in and once for the rest: (segments, encoding). The Spanish is spelled
# correctly and travels as GSM-7 wherever its words allow (é, ñ, ü, ¿, ¡ are GSM-7; á, í, ó, ú
# are not), else as UCS-2.
EXPECTED_SMS = {
    ("check_in", "en"): [(3, "GSM-7")] * 4,
    ("check_in", "es"): [(3, "GSM-7")] * 4,
    ("check_in_nudge", "en"): [(2, "GSM-7")] * 4,
    ("check_in_nudge", "es"): [(2, "GSM-7")] * 4,
    ("reach_out", "en"): [(1, "GSM-7")],
    ("reach_out", "es"): [(2, "UCS-2")],
    ("gratitude", "en"): [(1, "GSM-7")],
    ("gratitude", "es"): [(1, "GSM-7")],
    ("shared_activity", "en"): [(1, "GSM-7")],
    ("shared_activity", "es"): [(1, "GSM-7")],
    ("group_event", "en"): [(1, "GSM-7")],
    ("group_event", "es"): [(1, "GSM-7")],
    ("sms_help", "en"): [(2, "GSM-7")],
    ("sms_help", "es"): [(2, "GSM-7")],
    ("sms_answer_invalid", "en"): [(1, "GSM-7")],
    ("sms_answer_invalid", "es"): [(1, "GSM-7")],
    ("sms_answer_thanks", "en"): [(1, "GSM-7")],
    ("sms_answer_thanks", "es"): [(1, "GSM-7")],
    ("sms_opt_in_confirmation", "en"): [(1, "GSM-7")],
    ("sms_opt_in_confirmation", "es"): [(1, "GSM-7")],
    ("sms_opt_out_confirmation", "en"): [(1, "GSM-7")],
    ("sms_opt_out_confirmation", "es"): [(1, "GSM-7")],
}


def _figure_contexts(key: str, locale: str) -> list[PromptContext]:
    modules: list[int | None] = list(range(len(MODULES))) if key.startswith("check_in") else [None]
    nudge = 1 if key.endswith("_nudge") else 0
    return [sample_context(key, locale, module=module, nudge_number=nudge) for module in modules]


@pytest.mark.parametrize(("key", "locale"), sorted(EXPECTED_SMS))
async def test_what_each_default_sms_costs(renderer: PromptRenderer, key: str, locale: str) -> None:
    figures = [
        ((sms := await renderer.render_sms(key, ctx)).segments, sms.encoding)
        for ctx in _figure_contexts(key, locale)
    ]
    assert figures == EXPECTED_SMS[(key, locale)]
    if key != "check_in":
        # Within the warning threshold wherever the content allows it (the check-in's link
        # to the answer form costs a third segment).
        assert all(segments <= renderer.sms_warn_segments for segments, _ in figures)


# Words the Spanish defaults used to send without their accent ({% filter gsm %}), and words
# a shortened text is tempted to: none may appear, in any default.
MISSPELLED = re.compile(
    r"\b(numeros?|mas|recibiras|volveras|estan|marco|significo|Cuantas|practica|dificil|"
    r"preguntale|como esta|tambien|sumate)\b"
)


@pytest.mark.parametrize("key", sorted(key for key, locale in EXPECTED_SMS if locale == "es"))
async def test_spanish_is_spelled_correctly_and_ucs2_only_where_an_accent_needs_it(
    renderer: PromptRenderer, key: str
) -> None:
    source = renderer.packaged.get(key, "es", "sms")
    assert source is not None
    assert "filter gsm" not in source.text_body  # nothing folded behind the reader's back
    for ctx in sample_contexts(key, "es", _nudges(key)):
        sms = await renderer.render_sms(key.removesuffix("_nudge"), ctx)
        assert not MISSPELLED.search(sms.text), sms.text
        assert fold_to_gsm(sms.text) == sms.text or sms.encoding == "UCS-2"
        # UCS-2 for an accented vowel GSM-7 lacks, never for anything else.
        non_gsm = {char for char in sms.text if fold_to_gsm(char) != char}
        assert (sms.encoding == "UCS-2") == bool(non_gsm)
        assert non_gsm <= set("áíóúÁÍÓÚ")
