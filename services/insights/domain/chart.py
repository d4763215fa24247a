"""A trend chart of released values, drawn as inline SVG on the server.

The dashboard must work with no internet and run no script, so the chart is plain SVG markup:
the value line, the 95% interval as a shaded band, withheld points (flag ``c``) and points not
released for the area (``x``) as gaps marked with their flag, low-reliability points (``u``)
as hollow markers, and a legend. It carries a ``<title>`` and a ``<desc>`` for screen readers
(the page's table holds every number too). No style attributes: colours are presentation
attributes, so the page's Content-Security-Policy needs to allow no inline style but its own.

Everything printed is escaped here: labels come from stored releases, titles from the
indicator table and the communities' names.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html import escape

WITHHELD = "c"
UNRELIABLE = "u"
NOT_RELEASED = "x"  # the release left this area out (no one taking part, or its budget spent)

WIDTH, HEIGHT = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 264  # the plot area's edges
MAX_X_LABELS = 13

LINE = "#1c4e80"
BAND = "#a9c4e4"
GAP = "#8a4b08"
AXIS = "#444444"
GRID = "#dddddd"


class Unit(StrEnum):
    percent = "percent"
    people = "people"


@dataclass(frozen=True)
class ChartPoint:
    """One released period of one area and indicator. ``flag`` is ``c``, ``u``, ``x`` or None;
    a withheld or unreleased point has no value."""

    period: str
    value: float | None
    lower: float | None
    upper: float | None
    flag: str | None

    @property
    def plotted(self) -> bool:
        return self.value is not None and self.flag not in (WITHHELD, NOT_RELEASED)


def format_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return ""
    return f"{value:.1f}%" if unit is Unit.percent else f"{value:.0f}"


def nice_ceiling(highest: float, unit: Unit) -> float:
    """The top of the y axis: a round number at or above ``highest`` (percent: at most 100)."""
    if highest <= 0:
        return 100.0 if unit is Unit.percent else 10.0
    magnitude = 10 ** math.floor(math.log10(highest))
    top = next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= highest)
    return min(top, 100.0) if unit is Unit.percent else float(top)


def _runs(points: Sequence[ChartPoint]) -> Iterator[list[int]]:
    """Indexes of consecutive plotted points: the line and the band break at every gap."""
    run: list[int] = []
    for index, point in enumerate(points):
        if point.plotted:
            run.append(index)
        elif run:
            yield run
            run = []
    if run:
        yield run


def _number(value: float) -> str:
    return f"{value:.1f}"


def describe(points: Sequence[ChartPoint], cadence_label: str) -> str:
    """The chart's ``<desc>``: what it shows, in words."""
    if not points:
        return f"No {cadence_label} values have been released for this area yet."
    plotted = sum(point.plotted for point in points)
    unreliable = sum(point.plotted and point.flag == UNRELIABLE for point in points)
    withheld = sum(point.flag == WITHHELD for point in points)
    missing = sum(point.flag == NOT_RELEASED for point in points)
    return (
        f"{len(points)} {cadence_label} releases from {points[0].period} to "
        f"{points[-1].period}: {plotted} values published ({unreliable} of low reliability, "
        f"u), {withheld} withheld (c), {missing} not released for this area (x). The table "
        "below the chart lists every value and its interval."
    )


@dataclass(frozen=True)
class _Frame:
    """Where things go: period ``index`` -> x, a value -> y (0 at the bottom, ``top`` at the
    top: the axis always starts at zero)."""

    periods: int
    top: float

    @property
    def step(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.periods, 1)

    def x(self, index: int) -> float:
        return LEFT + (index + 0.5) * self.step

    def y(self, value: float) -> float:
        return BOTTOM - (min(max(value, 0.0), self.top) / self.top) * (BOTTOM - TOP)


def trend_svg(
    title: str, description: str, unit: Unit, points: Sequence[ChartPoint], chart_id: str
) -> str:
    """The chart as an ``<svg>`` element (``chart_id`` names its title and desc elements)."""
    highest = max(
        (p.upper if p.upper is not None else p.value or 0.0 for p in points if p.plotted),
        default=0.0,
    )
    frame = _Frame(len(points), nice_ceiling(highest, unit))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        *_axes(frame, unit),
        *_x_labels(points, frame),
    ]
    for run in _runs(points):
        parts.append(_band(points, run, frame))
        parts.append(_line(points, run, frame))
    parts.extend(_marker(point, index, frame, unit) for index, point in enumerate(points))
    parts.extend(_legend())
    parts.append("</svg>")
    return "".join(parts)


def _axes(frame: _Frame, unit: Unit) -> Iterator[str]:
    yield '<g class="axes">'
    for tick in range(5):
        value = frame.top * tick / 4
        height = _number(frame.y(value))
        yield (
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{height}" y2="{height}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        label = f"{value:g}%" if unit is Unit.percent else f"{value:g}"
        yield (
            f'<text x="{LEFT - 6}" y="{height}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="11" fill="{AXIS}">{label}</text>'
        )
    yield (
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{BOTTOM}" stroke="{AXIS}" stroke-width="1"/>'
    )
    yield "</g>"


def _x_labels(points: Sequence[ChartPoint], frame: _Frame) -> Iterator[str]:
    every = max(1, math.ceil(len(points) / MAX_X_LABELS))
    yield '<g class="periods">'
    for index, point in enumerate(points):
        if index % every == 0 or index == len(points) - 1:
            yield (
                f'<text x="{_number(frame.x(index))}" y="{BOTTOM + 16}" text-anchor="middle" '
                f'font-size="10" fill="{AXIS}">{escape(point.period)}</text>'
            )
    yield "</g>"


def _bounds(point: ChartPoint) -> tuple[float, float]:
    """(lower, upper) of a plotted point; a value without an interval is its own bounds."""
    value = point.value or 0.0
    return (
        point.lower if point.lower is not None else value,
        point.upper if point.upper is not None else value,
    )


def _band(points: Sequence[ChartPoint], run: list[int], frame: _Frame) -> str:
    """The interval of a run of points as one polygon (a lone point: a short bar)."""
    if len(run) == 1:
        half = min(frame.step / 2, 6.0)
        lows, highs = _bounds(points[run[0]])
        xs = (frame.x(run[0]) - half, frame.x(run[0]) + half)
        corners = [(xs[0], highs), (xs[1], highs), (xs[1], lows), (xs[0], lows)]
    else:
        corners = [(frame.x(i), _bounds(points[i])[1]) for i in run]
        corners += [(frame.x(i), _bounds(points[i])[0]) for i in reversed(run)]
    outline = " ".join(f"{_number(at)},{_number(frame.y(value))}" for at, value in corners)
    return f'<polygon class="band" points="{outline}" fill="{BAND}" fill-opacity="0.6"/>'


def _line(points: Sequence[ChartPoint], run: list[int], frame: _Frame) -> str:
    coordinates = " ".join(
        f"{_number(frame.x(i))},{_number(frame.y(points[i].value or 0.0))}" for i in run
    )
    return (
        f'<polyline class="value-line" points="{coordinates}" fill="none" stroke="{LINE}" '
        'stroke-width="2"/>'
    )


def _marker(point: ChartPoint, index: int, frame: _Frame, unit: Unit) -> str:
    at = _number(frame.x(index))
    period = escape(point.period)
    if not point.plotted:
        flag = WITHHELD if point.flag == WITHHELD else NOT_RELEASED
        why = "withheld: too few people" if flag == WITHHELD else "not released for this area"
        return (
            f'<g class="gap" data-period="{period}" data-flag="{flag}">'
            f"<title>{period}: {why} ({flag})</title>"
            f'<line x1="{at}" x2="{at}" y1="{TOP}" y2="{BOTTOM}" stroke="{GAP}" '
            'stroke-width="1" stroke-dasharray="4 3"/>'
            f'<text x="{at}" y="{TOP + 12}" text-anchor="middle" font-size="13" '
            f'font-weight="bold" fill="{GAP}" stroke="#ffffff" stroke-width="3" '
            f'paint-order="stroke">{flag}</text></g>'
        )
    value = point.value or 0.0
    lower, upper = _bounds(point)
    height = frame.y(value)
    unreliable = point.flag == UNRELIABLE
    text = (
        f"{period}: {format_value(value, unit)} (95% interval {format_value(lower, unit)} to "
        f"{format_value(upper, unit)}){' — low reliability (u)' if unreliable else ''}"
    )
    if unreliable:
        return (
            f'<g class="point unreliable" data-period="{period}" data-flag="u">'
            f"<title>{text}</title>"
            f'<circle cx="{at}" cy="{_number(height)}" r="4" fill="#ffffff" stroke="{LINE}" '
            'stroke-width="2"/>'
            f'<text x="{at}" y="{_number(height - 9)}" text-anchor="middle" font-size="11" '
            f'font-weight="bold" fill="{LINE}">u</text></g>'
        )
    return (
        f'<g class="point" data-period="{period}"><title>{text}</title>'
        f'<circle cx="{at}" cy="{_number(height)}" r="4" fill="{LINE}" stroke="{LINE}" '
        'stroke-width="2"/></g>'
    )


def _legend() -> Iterator[str]:
    row1, row2 = BOTTOM + 44, BOTTOM + 70
    yield '<g class="legend" font-size="12" fill="#222222">'
    yield (
        f'<line x1="{LEFT}" x2="{LEFT + 24}" y1="{row1}" y2="{row1}" stroke="{LINE}" '
        'stroke-width="2"/>'
    )
    yield f'<text x="{LEFT + 30}" y="{row1 + 4}">released value</text>'
    yield (
        f'<rect x="{LEFT + 150}" y="{row1 - 7}" width="24" height="14" fill="{BAND}" '
        'fill-opacity="0.6"/>'
    )
    yield f'<text x="{LEFT + 180}" y="{row1 + 4}">95% interval (noise included)</text>'
    yield (
        f'<circle cx="{LEFT + 412}" cy="{row1}" r="4" fill="#ffffff" stroke="{LINE}" '
        'stroke-width="2"/>'
    )
    yield f'<text x="{LEFT + 422}" y="{row1 + 4}">u: low reliability (wide interval)</text>'
    yield (
        f'<line x1="{LEFT + 12}" x2="{LEFT + 12}" y1="{row2 - 9}" y2="{row2 + 7}" '
        f'stroke="{GAP}" stroke-dasharray="4 3"/>'
    )
    yield f'<text x="{LEFT + 30}" y="{row2 + 4}">c: withheld, too few people (a gap)</text>'
    yield (f'<text x="{LEFT + 300}" y="{row2 + 4}">x: not released for this area (a gap)</text>')
    yield "</g>"
