"""The check-in items we ask, as validated instruments define them (see docs/indicators).

Values are the instrument's codes, so that insights can score them without the wording.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    key: str
    prompt: str
    options: tuple[Option, ...]
    source: str

    def option(self, value: int) -> Option | None:
        return next((option for option in self.options if option.value == value), None)


ONS_LONELINESS = Item(
    key="ons_loneliness",
    prompt="How often do you feel lonely?",
    options=(
        Option(1, "Often or always"),
        Option(2, "Some of the time"),
        Option(3, "Occasionally"),
        Option(4, "Hardly ever"),
        Option(5, "Never"),
    ),
    source="UK Office for National Statistics, direct loneliness measure",
)

ITEMS: dict[str, Item] = {item.key: item for item in (ONS_LONELINESS,)}

# Which item a prompt template asks. Templates without one are reminders with no question.
TEMPLATE_ITEMS: dict[str, str] = {"check_in": ONS_LONELINESS.key}


def item_for_template(template_key: str) -> Item | None:
    key = TEMPLATE_ITEMS.get(template_key)
    return ITEMS[key] if key else None
