"""Answer codes said in words: the demo prints what a member answered, not only its code."""

from __future__ import annotations

from services.notifier.domain.questionnaire import ANCHOR, ITEMS

LOCALE = "en"


def in_words(item_key: str, code: int) -> str:
    """``5 ("Never")``: the code and the answer it stands for in the item's own wording."""
    option = ITEMS[item_key].option(code)
    label = option.label(LOCALE) if option is not None else "not an answer to this question"
    return f'{code} ("{label}")'


def anchor_legend() -> str:
    """The anchor question and what each of its codes means, on one line."""
    scale = ", ".join(f"{o.value} {o.label(LOCALE)}" for o in ANCHOR.options)
    return f'"{ANCHOR.prompt(LOCALE)}" {scale}'
