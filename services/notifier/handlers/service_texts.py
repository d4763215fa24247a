"""Short service replies by SMS (opt-out confirmation, help…), in the member's language."""

from __future__ import annotations

_TEXTS: dict[str, dict[str, str]] = {
    "sms_opt_out_confirmation": {
        "en": "You won't get any more texts from Connection Rituals. Reply START to restart.",
        "es": "Ya no recibirás más mensajes de Connection Rituals. Responde START para volver.",
    },
    "sms_opt_in_confirmation": {
        "en": "Welcome back: your check-ins will start again. Reply STOP to stop.",
        "es": "Bienvenido de nuevo: volverás a recibir tus mensajes. Responde STOP para parar.",
    },
    "sms_help": {
        "en": "Connection Rituals: short check-ins to help you stay connected. Your replies "
        "are confidential. Reply STOP to stop, START to restart.",
        "es": "Connection Rituals: mensajes breves para ayudarte a seguir en contacto. Tus "
        "respuestas son confidenciales. Responde STOP para parar, START para volver.",
    },
    "sms_answer_thanks": {
        "en": "Thank you, your answer is recorded.",
        "es": "Gracias, hemos recibido tu respuesta.",
    },
    "sms_answer_invalid": {
        "en": "Sorry, we couldn't read that. Please reply with the numbers of your answers, "
        "for example: 2 1 3",
        "es": "Perdona, no lo hemos entendido. Responde con los números de tus respuestas, "
        "por ejemplo: 2 1 3",
    },
}


async def packaged_service_text(key: str, locale: str) -> str:
    texts = _TEXTS[key]
    return texts.get(locale) or texts.get(locale.split("-")[0]) or texts["en"]
