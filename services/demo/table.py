"""The released indicator table the demo ends with, read from the analysts' API, and what the
demo insists on seeing in it.

Only released figures are shown (``GET /v1/values``): the demo never prints an exact count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.demo.system import ApiClient
from services.insights.domain.indicators import INDICATORS, Kind

Row = dict[str, Any]
WITHHELD = "c"


async def released_values(analysts: ApiClient, period: str) -> list[Row]:
    """Every released value of one week or period, all pages."""
    rows: list[Row] = await analysts.get_all("/v1/values", period=period)
    return rows


def is_published(row: Row) -> bool:
    return row["flag"] != WITHHELD and row["value"] is not None


@dataclass(frozen=True)
class Area:
    id: str
    area_type: str  # "community" or "region"
    label: str


def _cells(row: Row | None, percent: bool) -> tuple[str, str, str, str]:
    """value, 95% interval, noisy n, flag, as printed (withheld: dashes and c)."""
    if row is None:
        return "", "", "", "(none)"
    if not is_published(row):
        return "-", "-", "-", WITHHELD
    unit = "%" if percent else ""
    value = f"{row['value']:.1f}{unit}" if percent else f"{row['value']:.0f}"
    interval = f"[{row['lower']:.1f}, {row['upper']:.1f}]"
    return value, interval, str(row["noisy_n"]), row["flag"] or "-"


def indicator_table(rows: Iterable[Row], areas: list[Area]) -> list[str]:
    """One line per indicator and area, indicators in the catalogue's order."""
    by_key = {(row["indicator"], row["area_type"], row["area"]): row for row in rows}
    width = max(len(area.label) for area in areas)
    titles = max(len(f"{i.number}. {i.title}") for i in INDICATORS)
    header = (
        f"  {'Indicator':<{titles}} {'Area':<{width}} {'Value':>7}  {'95% interval':<14} "
        f"{'Noisy n':>7}  Flag"
    )
    lines = [header, "  " + "-" * (len(header) - 2)]
    for indicator in INDICATORS:
        shown = {area: by_key.get((indicator.code, area.area_type, area.id)) for area in areas}
        if not any(shown.values()):
            continue  # not released for this cadence
        title = f"{indicator.number}. {indicator.title}"
        for position, area in enumerate(areas):
            value, interval, n, flag = _cells(shown[area], indicator.kind is Kind.proportion)
            name = title if position == 0 else ""
            area_label = f"{area.label:<{width}}"
            lines.append(
                f"  {name:<{titles}} {area_label} {value:>7}  {interval:<14} {n:>7}  {flag}"
            )
    return lines


def summary_by_area(rows: Iterable[Row]) -> dict[tuple[str, str], tuple[int, int]]:
    """(area type, area) -> (values published, values released)."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        tally = counts[(row["area_type"], row["area"])]
        tally[0] += is_published(row)
        tally[1] += 1
    return {area: (published, total) for area, (published, total) in counts.items()}
