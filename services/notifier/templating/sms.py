"""What an SMS will cost, said as warnings an operator can act on."""

from __future__ import annotations

from services.notifier.domain.sms_encoding import SmsAnalysis, SmsEncoding

# Characters outside GSM-7 that have a close GSM-7 form. Spanish keeps é, ñ, ü, ¿ and ¡ (they
# are GSM-7); á, í, ó and ú lose their accent. Anything without a close form (emoji, other
# scripts) is left alone, and so still forces UCS-2, visibly.
_GSM_FOLDS = str.maketrans(
    {
        "á": "a", "í": "i", "ó": "o", "ú": "u", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
        "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ã": "a", "õ": "o", "ç": "c",
        "ë": "e", "ï": "i", "«": '"', "»": '"',
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
        "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2026": "...", "\u00a0": " ",
    }
)  # fmt: skip


def fold_to_gsm(text: str) -> str:
    """``text`` with accented vowels and typographic punctuation replaced by their GSM-7
    neighbours ("¿Cuántas?" -> "¿Cuantas?"), so a Spanish SMS can travel as GSM-7 (160
    characters a segment) rather than UCS-2 (70). A template opts in with
    ``{% filter gsm %}…{% endfilter %}``; nothing is folded behind its back."""
    return text.translate(_GSM_FOLDS)


def sms_warnings(analysis: SmsAnalysis, warn_segments: int) -> list[str]:
    warnings: list[str] = []
    if analysis.encoding is SmsEncoding.UCS2:
        characters = ", ".join(repr(char) for char in analysis.non_gsm_chars[:10])
        warnings.append(
            f"UCS-2 encoding (70 characters a segment instead of 160) because of {characters}"
        )
    if analysis.segments > warn_segments:
        warnings.append(
            f"{analysis.segments} segments ({analysis.encoding.value}): more than "
            f"{warn_segments} cost extra and may arrive out of order"
        )
    return warnings
