"""What an inbound SMS means: opt-out, opt-in, help, preferences, an answer, or free text.

Carriers and Twilio honour STOP-style keywords, and so must we. A keyword counts only as the
*first word*: "Stop. Thank you" stops, "don't stop" does not. Opting out on the first word is
deliberately generous (a missed STOP is a compliance failure, an extra one costs a message),
whereas opting back *in* needs the keyword alone: re-subscribing someone is the one reading
that must not be a guess.

The result carries no text from the body, only its kind and coded values, so it can be logged
and published; the body itself, when it is free text, never leaves the notifier.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

# The carriers' English keywords, plus BAJA and AYUDA for members texting in Spanish.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "BAJA"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO", "AYUDA"})
# The reply is a signed link to the member's preferences page. The keyword alone, like START:
# "prefs" inside a sentence is free text.
PREFERENCES_KEYWORDS = frozenset({"PREFS", "PREFERENCES", "PREFERENCIAS"})
YES_WORDS = frozenset({"YES", "Y"})
NO_WORDS = frozenset({"NO", "N"})

# Answers are instrument codes (1-5 and the like), so a long digit run is not an answer: it is
# far more likely a phone number or a date, and those must stay free text.
MAX_ANSWER_DIGITS = 3
MAX_ANSWERS = 10

# A word is letters/digits, possibly joined by apostrophes or hyphens, so "don't" and
# "end-of-day" are single words and never read as "don" or "end".
_APOSTROPHES_AND_HYPHENS = "'\u2019\u02bc\\-\u2010"  # typewriter and curly apostrophes, hyphens
_WORD = re.compile(rf"[^\W_]+(?:[{_APOSTROPHES_AND_HYPHENS}][^\W_]+)*")
_NUMBERS = re.compile(r"\d+(?:[\s,;]+\d+)*")
_DIGITS = re.compile(r"\d+")
_SIGNS = frozenset("+-\u2212")  # plus, hyphen-minus, minus sign


class InboundKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    PREFERENCES = "preferences"
    NUMBERS = "numbers"
    YES_NO = "yes_no"
    FREE_TEXT = "free_text"


@dataclass(frozen=True)
class InboundSms:
    kind: InboundKind
    keyword: str | None = None
    """The canonical keyword (``"STOP"``, ``"START"``, ``"HELP"`` …) for keyword kinds."""
    numbers: tuple[int, ...] = ()
    yes: bool | None = None


FREE_TEXT = InboundSms(InboundKind.FREE_TEXT)


def classify_inbound_sms(body: str) -> InboundSms:
    """Classify an inbound SMS body. Pure and total: never raises, whatever the text."""
    text = unicodedata.normalize("NFKC", body)
    words = _WORD.findall(text)
    if not words:
        return FREE_TEXT
    first = _keyword_form(words[0])
    if first in OPT_OUT_KEYWORDS:
        return InboundSms(InboundKind.OPT_OUT, keyword=first)
    if first == "OPT" and len(words) > 1 and _keyword_form(words[1]) == "OUT":
        return InboundSms(InboundKind.OPT_OUT, keyword="OPTOUT")
    if first in HELP_KEYWORDS:
        return InboundSms(InboundKind.HELP, keyword=first)
    whole = _strip_surroundings(text)
    if _keyword_form(whole) in OPT_IN_KEYWORDS:
        return InboundSms(InboundKind.OPT_IN, keyword=_keyword_form(whole))
    if _keyword_form(whole) in PREFERENCES_KEYWORDS:
        return InboundSms(InboundKind.PREFERENCES, keyword=_keyword_form(whole))
    if whole.upper() in YES_WORDS | NO_WORDS:
        return InboundSms(InboundKind.YES_NO, yes=whole.upper() in YES_WORDS)
    return _numbers(whole) or FREE_TEXT


def _keyword_form(word: str) -> str:
    # "opt-out", "Stop-All" and "UN-SUBSCRIBE" are the keywords people actually type.
    return word.replace("-", "").replace("\u2010", "").upper()


def _strip_surroundings(text: str) -> str:
    """Drop whitespace, punctuation, symbols and marks around the text ("2 🙂", "2️⃣"), but
    keep signs: "-1" is not the answer 1."""
    start, end = 0, len(text)
    while start < end and _is_surrounding(text[start]):
        start += 1
    while end > start and _is_surrounding(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_surrounding(char: str) -> bool:
    if char in _SIGNS:
        return False
    return char.isspace() or unicodedata.category(char)[0] in "PSZCM"


def _numbers(text: str) -> InboundSms | None:
    if not _NUMBERS.fullmatch(text):
        return None
    digits = _DIGITS.findall(text)
    if len(digits) > MAX_ANSWERS or any(len(d) > MAX_ANSWER_DIGITS for d in digits):
        return None
    return InboundSms(InboundKind.NUMBERS, numbers=tuple(int(d) for d in digits))
