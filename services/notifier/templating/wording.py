"""The few sentences the renderer adds itself, so that guarantees hold whatever a template
says: every e-mail carries its unsubscribe link and its preferences link, every SMS prompt says
how to stop, and a prompt sent as a reminder (when no ``<key>_nudge`` template exists) says it
is one.

Keywords stay in English (STOP): carriers and Twilio act on them in every language.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from types import MappingProxyType

from services.notifier.domain.questionnaire import locale_fallbacks

_WORDING: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": MappingProxyType(
            {
                "reminder_subject": "A gentle reminder: ",
                "reminder_text": "A gentle reminder, in case this got buried.",
                "reminder_sms": "Gentle reminder: ",
                "unsubscribe_text": "To stop these e-mails: {url}",
                "unsubscribe_html": "Stop these e-mails",
                "preferences_text": "Pause, stop one ritual, or change channel, quiet hours or "
                "language: {url}",
                "preferences_html": "Your preferences (pause, channel, quiet hours, language)",
                "preferences_sms": "Your preferences (pause, stop one, channel, quiet hours, "
                "language): {url}",
                "stop_sms": "Reply STOP to stop.",
            }
        ),
        "es": MappingProxyType(
            {
                "reminder_subject": "Un recordatorio amable: ",
                "reminder_text": "Un recordatorio amable, por si se te pasó.",
                "reminder_sms": "Recordatorio: ",
                "unsubscribe_text": "Para dejar de recibir estos correos: {url}",
                "unsubscribe_html": "Dejar de recibir estos correos",
                "preferences_text": "Pausar, dejar un ritual o cambiar canal, horas de silencio "
                "o idioma: {url}",
                "preferences_html": "Tus preferencias (pausa, canal, horas de silencio, idioma)",
                "preferences_sms": "Tus preferencias (pausa, canal, horas de silencio, idioma): "
                "{url}",
                # No accent GSM-7 lacks: added to a GSM-7 text, it needs no folding to stay
                # correctly spelled (the defaults end the same way).
                "stop_sms": "Responde STOP para salir.",
            }
        ),
    }
)


def wording(name: str, locale: str) -> str:
    for candidate in locale_fallbacks(locale):
        if candidate in _WORDING:
            return _WORDING[candidate][name]
    return _WORDING["en"][name]


def mentions_url(body: str, url: str) -> bool:
    """True when ``url`` appears as written or HTML-escaped."""
    return url in body or escape(url) in body


def add_unsubscribe_text(text: str, url: str, locale: str) -> str:
    if mentions_url(text, url):
        return text
    return f"{text.rstrip()}\n\n{wording('unsubscribe_text', locale).format(url=url)}"


def add_unsubscribe_html(html: str, url: str, locale: str) -> str:
    if mentions_url(html, url):
        return html
    footer = (
        f'<p style="font-size:small"><a href="{escape(url)}">'
        f"{escape(wording('unsubscribe_html', locale))}</a></p>"
    )
    position = html.lower().rfind("</body>")
    if position == -1:
        return f"{html}\n{footer}"
    return f"{html[:position]}{footer}\n{html[position:]}"


def add_preferences_text(text: str, url: str, locale: str) -> str:
    if mentions_url(text, url):
        return text
    return f"{text.rstrip()}\n\n{wording('preferences_text', locale).format(url=url)}"


def add_preferences_html(html: str, url: str, locale: str) -> str:
    if mentions_url(html, url):
        return html
    footer = (
        f'<p style="font-size:small"><a href="{escape(url)}">'
        f"{escape(wording('preferences_html', locale))}</a></p>"
    )
    position = html.lower().rfind("</body>")
    if position == -1:
        return f"{html}\n{footer}"
    return f"{html[:position]}{footer}\n{html[position:]}"


def text_to_html(text: str, locale: str) -> str:
    """A plain HTML part for an e-mail template that has none: the text, escaped, in
    paragraphs, line breaks kept."""
    paragraphs = [block for block in text.split("\n\n") if block.strip()]
    body = "\n".join(f"<p>{escape(block).replace(chr(10), '<br>')}</p>" for block in paragraphs)
    language = escape(locale.split("-")[0] or "en")
    return (
        f'<!doctype html>\n<html lang="{language}"><head><meta charset="utf-8"></head>'
        f"<body>\n{body}\n</body></html>"
    )


def add_reminder_html(html: str, locale: str) -> str:
    note = f"<p><em>{escape(wording('reminder_text', locale))}</em></p>"
    lower = html.lower()
    start = lower.find("<body")
    end = lower.find(">", start) if start != -1 else -1
    if end == -1:
        return f"{note}\n{html}"
    return f"{html[: end + 1]}\n{note}{html[end + 1 :]}"
