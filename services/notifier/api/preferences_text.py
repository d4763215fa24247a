"""What the preferences page says, in the languages prompts are written in (English, Spanish):
the page speaks the member's language. Error texts are keyed by ``InvalidPreferences.code``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_TEXT: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": MappingProxyType(
            {
                "title": "Your preferences",
                "rituals": "Your rituals",
                "no_rituals": "You have no rituals yet: they appear here after their first "
                "message.",
                "reach": "How we reach you",
                "channel_legend": "Send my messages by",
                "quiet_legend": "Quiet hours",
                "quiet_hint": "No messages between these times, in your own time zone (they "
                "wait until the quiet hours end). Leave both empty for none.",
                "from": "From (for example 22:00)",
                "until": "Until (for example 07:30)",
                "language_legend": "Language of your messages",
                "save": "Save my choices",
                "saved": "Your choices are saved.",
                "saved_short": "Saved.",
                "back": "Back to your preferences",
                "check_title": "Please check your choices",
                "not_saved": "Nothing was saved: {reason}.",
                "retry_title": "Please try again",
                "form_expired": "This form has expired",
                "form_unchecked": "This form could not be checked",
                "nothing_changed": "Nothing was changed.",
                "open_again": "Open your preferences again",
                "and_save": "and save once more.",
                "not_found": "We could not find your preferences",
                "choice.active": "Keep receiving it",
                "choice.paused": "Pause it for now (resume here any time)",
                "choice.stopped": "Stop this one (the others go on)",
                "slot_legend": "Time of day to receive it",
                "slot_legend_zone": "Time of day to receive it ({zone} time)",
                "channel.email": "E-mail",
                "channel.sms": "Text message (SMS)",
                "kind.check_in": "Check-in",
                "kind.shared_activity": "Shared activity",
                "kind.reach_out": "Reach-out reminder",
                "kind.gratitude": "Gratitude moment",
                "kind.group_event": "Group event",
                "error.start_time": "the start of quiet hours must be a time of day such as 22:00",
                "error.end_time": "the end of quiet hours must be a time of day such as 07:30",
                "error.quiet_half": "quiet hours need both a start and an end (or neither)",
                "error.quiet_same": "quiet hours must start and end at different times",
                "error.no_phone": "we have no phone number for you, so sms cannot be chosen",
                "error.no_email": "we have no e-mail address for you, so email cannot be chosen",
                "error.language": "language must be one of en, es",
                "error.unknown_ritual": "a ritual on the form is not one of yours",
                "error.ritual_choice": "choose keep, pause or stop for each ritual",
                "error.channel": "the channel must be e-mail or text message",
                "error.time_slot": "choose one of the times a ritual offers",
            }
        ),
        "es": MappingProxyType(
            {
                "title": "Tus preferencias",
                "rituals": "Tus rituales",
                "no_rituals": "Aún no tienes rituales: aparecen aquí después de su primer mensaje.",
                "reach": "Cómo te contactamos",
                "channel_legend": "Enviar mis mensajes por",
                "quiet_legend": "Horas de silencio",
                "quiet_hint": "Ningún mensaje entre estas horas, en tu zona horaria (esperan "
                "a que terminen las horas de silencio). Deja ambas vacías si no quieres "
                "ninguna.",
                "from": "Desde (por ejemplo 22:00)",
                "until": "Hasta (por ejemplo 07:30)",
                "language_legend": "Idioma de tus mensajes",
                "save": "Guardar mis opciones",
                "saved": "Tus opciones están guardadas.",
                "saved_short": "Guardado.",
                "back": "Volver a tus preferencias",
                "check_title": "Revisa tus opciones",
                "not_saved": "No se guardó nada: {reason}.",
                "retry_title": "Inténtalo de nuevo",
                "form_expired": "Este formulario ha caducado",
                "form_unchecked": "No se pudo comprobar este formulario",
                "nothing_changed": "No se cambió nada.",
                "open_again": "Abre tus preferencias de nuevo",
                "and_save": "y guarda otra vez.",
                "not_found": "No encontramos tus preferencias",
                "choice.active": "Seguir recibiéndolo",
                "choice.paused": "Pausarlo por ahora (puedes reanudarlo aquí cuando quieras)",
                "choice.stopped": "Dejar este (los demás siguen)",
                "slot_legend": "Hora del día para recibirlo",
                "slot_legend_zone": "Hora del día para recibirlo (hora de {zone})",
                "channel.email": "Correo electrónico",
                "channel.sms": "Mensaje de texto (SMS)",
                "kind.check_in": "Consulta semanal",
                "kind.shared_activity": "Actividad compartida",
                "kind.reach_out": "Recordatorio para contactar a alguien",
                "kind.gratitude": "Momento de gratitud",
                "kind.group_event": "Evento de grupo",
                "error.start_time": "el inicio de las horas de silencio debe ser una hora como "
                "22:00",
                "error.end_time": "el final de las horas de silencio debe ser una hora como 07:30",
                "error.quiet_half": "las horas de silencio necesitan un inicio y un final (o "
                "ninguno de los dos)",
                "error.quiet_same": "las horas de silencio deben empezar y terminar a horas "
                "distintas",
                "error.no_phone": "no tenemos tu número de teléfono, así que no se puede elegir "
                "SMS",
                "error.no_email": "no tenemos tu correo electrónico, así que no se puede "
                "elegir el correo",
                "error.language": "el idioma debe ser en o es",
                "error.unknown_ritual": "un ritual del formulario no es tuyo",
                "error.ritual_choice": "elige seguir, pausar o dejar para cada ritual",
                "error.channel": "el canal debe ser correo electrónico o mensaje de texto",
                "error.time_slot": "elige una de las horas que ofrece el ritual",
            }
        ),
    }
)


def page_language(language: str) -> str:
    """The page's language for a member's: theirs if the page speaks it, else English."""
    return language if language in _TEXT else "en"


def text(key: str, language: str) -> str:
    return _TEXT[page_language(language)][key]
