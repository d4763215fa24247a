"""When an answer calls for professional support to join the network, right away.

Operators configure the rule: answer codes that signal acute distress (the lowest score on a
wellbeing item), and words in a free-text reply. A match sends the operator's support and
crisis resources at once; the only trace that leaves the notifier is a count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"[^\W_]+", folded))


@dataclass(frozen=True)
class DistressRules:
    answers: Mapping[str, frozenset[int]]
    words: tuple[str, ...]
    support_message: str

    @classmethod
    def build(
        cls, answers: Mapping[str, list[int]], words: tuple[str, ...], support_message: str
    ) -> DistressRules:
        return cls(
            {item: frozenset(values) for item, values in answers.items()},
            tuple(_normalise(word) for word in words if word.strip()),
            support_message,
        )

    def by_answers(self, values: Mapping[str, int]) -> bool:
        return any(value in self.answers.get(item, ()) for item, value in values.items())

    def by_text(self, text: str) -> bool:
        """Whole words or phrases, case- and punctuation-insensitive ("Self-harm" matches
        "self harm"; "therapist" does not match "the rapist")."""
        padded = f" {_normalise(text)} "
        return any(f" {phrase} " in padded for phrase in self.words)
