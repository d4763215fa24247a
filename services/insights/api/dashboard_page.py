"""The dashboard's HTML: the sign-in form, and the page with the picker, the chart and the table.

Plain HTML that runs no script and loads nothing: one inline stylesheet (allowed by its hash in
the page's Content-Security-Policy), the chart as inline SVG. Everything printed is escaped
here; nothing a request sent is printed except the choices it picked from the lists shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape

from fastapi.responses import HTMLResponse

from services.insights.adapters.release_store import ValueRow
from services.insights.domain.chart import (
    NOT_RELEASED,
    UNRELIABLE,
    WITHHELD,
    ChartPoint,
    Unit,
    describe,
    format_value,
    trend_svg,
)
from services.insights.domain.indicators import INDICATORS, Cadence, Indicator
from shared.http.page_headers import page_security_headers

CAVEAT = (
    "These figures are participant-reported: people who chose to take part in check-ins and "
    "consented to share their answers. They are not population prevalence."
)
CADENCE_LABELS = {Cadence.week: "weekly", Cadence.period: "4-weekly"}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:1.5rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}header{display:flex;justify-content:space-between;"
    "align-items:baseline;gap:1rem}.caveat{background:#fff8e6;border-left:4px solid #b7791f;"
    "padding:.5rem 1rem}.pick{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;"
    "margin:1rem 0}.pick label{display:flex;flex-direction:column;font-weight:600}"
    "select,input,button{font-size:1rem;padding:.4rem}.notice{font-style:italic}"
    "svg.trend{max-width:100%;height:auto}table{border-collapse:collapse;margin:1rem 0}"
    "caption{text-align:left;font-weight:600;padding:.3rem 0}td,th{border:1px solid #bbb;"
    "padding:.3rem .6rem;text-align:right}th[scope=col]{background:#f2f2f2}"
    "th[scope=row]{text-align:left}.error{color:#9b1c1c;font-weight:600}dt{font-weight:600}"
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>{style}</style>
</head><body>{body}</body></html>"""


@cache
def dashboard_headers() -> dict[str, str]:
    """Strict headers: no script at all, this page's stylesheet only, no framing or caching."""
    return page_security_headers(_STYLE)


def html_page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A dashboard page; ``body`` is HTML whose every quoted value is already escaped."""
    html = _PAGE.format(title=escape(title), style=_STYLE, body=body)
    return HTMLResponse(html, status_code=status_code, headers=dashboard_headers())


def sign_in_page(wrong_token: bool = False) -> HTMLResponse:
    """The sign-in form. A wrong token is answered 401 (the listener's throttle counts it);
    what was typed is never shown again."""
    error = '<p class="error" role="alert">That token was not accepted.</p>' if wrong_token else ""
    body = (
        "<h1>Connection indicators</h1>"
        "<p>Sign in with the analyst token your organisation was given.</p>"
        f"{error}"
        '<form method="post" action="/dashboard/sign-in">'
        '<label for="token">Analyst token</label> '
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required maxlength="512"> <button type="submit">Sign in</button></form>'
        f'<p class="caveat">{escape(CAVEAT)}</p>'
        '<p><a href="/methodology">How the figures are made (methodology)</a></p>'
    )
    response = html_page("Sign in: connection indicators", body, 401 if wrong_token else 200)
    if wrong_token:
        response.headers["WWW-Authenticate"] = 'Bearer realm="analyst"'
    return response


@dataclass(frozen=True)
class AreaChoice:
    area_type: str  # community | region
    area_id: str
    label: str

    @property
    def key(self) -> str:
        """The form value: ``community:riverside``, ``region:E08000035``."""
        return f"{self.area_type}:{self.area_id}"


@dataclass(frozen=True)
class Released:
    """One period on the chart: its stored value, or None when the release left the area out."""

    period: str
    row: ValueRow | None

    def point(self) -> ChartPoint:
        if self.row is None:
            return ChartPoint(self.period, None, None, None, NOT_RELEASED)
        row = self.row
        return ChartPoint(self.period, row.value, row.lower, row.upper, row.flag)


@dataclass(frozen=True)
class DashboardView:
    areas: Sequence[AreaChoice]
    area: AreaChoice | None  # None: no area known yet
    indicator: Indicator
    cadence: Cadence
    series: Sequence[Released]
    notice: str | None
    signed_in: bool  # a session to end (not in public mode)


def unit_of(indicator: Indicator) -> Unit:
    return Unit.percent if indicator.kind.value == "proportion" else Unit.people


def _options(view: DashboardView) -> str:
    groups = []
    for area_type, heading in (("community", "Communities"), ("region", "Regions")):
        options = "".join(
            f'<option value="{escape(choice.key)}"'
            f"{' selected' if choice == view.area else ''}>{escape(choice.label)}</option>"
            for choice in view.areas
            if choice.area_type == area_type
        )
        if options:
            groups.append(f'<optgroup label="{heading}">{options}</optgroup>')
    return "".join(groups)


def _picker(view: DashboardView) -> str:
    indicators = "".join(
        f'<option value="{i.code}"{" selected" if i == view.indicator else ""}>'
        f"{i.number}. {escape(i.title)}</option>"
        for i in INDICATORS
    )
    cadences = "".join(
        f'<option value="{c.value}"{" selected" if c is view.cadence else ""}>'
        f"{CADENCE_LABELS[c]}</option>"
        for c in Cadence
    )
    return (
        '<form class="pick" method="get" action="/dashboard">'
        f'<label for="area">Area <select id="area" name="area">{_options(view)}</select></label>'
        f'<label for="indicator">Indicator <select id="indicator" name="indicator">'
        f"{indicators}</select></label>"
        f'<label for="cadence">Releases <select id="cadence" name="cadence">{cadences}'
        "</select></label>"
        '<button type="submit">Show</button></form>'
    )


def _flag_cell(flag: str | None) -> str:
    names = {WITHHELD: "withheld", UNRELIABLE: "low reliability", NOT_RELEASED: "not released"}
    if flag is None:
        return "<td></td>"
    return f'<td><abbr title="{names.get(flag, "")}">{escape(flag)}</abbr></td>'


def _table(view: DashboardView, caption: str) -> str:
    unit = unit_of(view.indicator)
    rows = []
    for released in reversed(view.series):  # newest first: what an analyst looks for
        row = released.row
        if row is None:
            cells = "<td>not released</td><td></td><td></td><td></td>" + _flag_cell(NOT_RELEASED)
        elif row.flag == WITHHELD:
            cells = "<td>withheld</td><td></td><td></td><td></td>" + _flag_cell(WITHHELD)
        else:
            noisy_n = "" if row.noisy_n is None else str(row.noisy_n)
            cells = (
                f"<td>{format_value(row.value, unit)}</td>"
                f"<td>{format_value(row.lower, unit)}</td>"
                f"<td>{format_value(row.upper, unit)}</td>"
                f"<td>{noisy_n}</td>{_flag_cell(row.flag)}"
            )
        rows.append(f'<tr><th scope="row">{escape(released.period)}</th>{cells}</tr>')
    header = "".join(
        f'<th scope="col">{name}</th>'
        for name in ("Period", "Value", "Lower (95%)", "Upper (95%)", "Noisy n", "Flag")
    )
    return (
        f'<table class="values"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


_FLAGS = (
    '<dl class="flags"><dt>c</dt><dd>Withheld: too few people took part (a gap in the chart).'
    "</dd><dt>u</dt><dd>Low reliability: the 95% interval is wider than ±10 points (for a "
    "count: it reaches zero).</dd><dt>x</dt><dd>Not released for this area that period (no "
    "one taking part, or its privacy budget was spent).</dd></dl>"
    "<p>Noisy n: the number of people behind a value, with the privacy noise added. Every "
    "interval includes that noise.</p>"
)


def dashboard_page(view: DashboardView) -> HTMLResponse:
    cadence = CADENCE_LABELS[view.cadence]
    where = view.area.label if view.area is not None else "no area yet"
    title = f"{view.indicator.title}, {where}, {cadence}"
    unit = unit_of(view.indicator)
    points = [released.point() for released in view.series]
    if points:
        chart = trend_svg(title, describe(points, cadence), unit, points, "trend")
        figure = f'<figure class="chart">{chart}</figure>'
        table = _table(view, f"{title}: released values, 95% intervals and flags")
    else:
        figure = f"<p>{escape(describe(points, cadence))}</p>"
        table = ""
    sign_out = (
        '<form method="post" action="/dashboard/sign-out"><button type="submit">Sign out'
        "</button></form>"
        if view.signed_in
        else ""
    )
    notice = f'<p class="notice">{escape(view.notice)}</p>' if view.notice else ""
    units = "percent" if unit is Unit.percent else "people"
    among = f"; among {escape(view.indicator.denominator)}" if view.indicator.denominator else ""
    body = (
        f"<header><h1>Connection indicators</h1>{sign_out}</header>"
        f'<p class="caveat">{escape(CAVEAT)}</p>'
        f"{_picker(view)}"
        f"<h2>{escape(title)}</h2>{notice}"
        f"<p>Counted: {escape(view.indicator.numerator)}{among}. Unit: {units}.</p>"
        f"{figure}{table}{_FLAGS}"
        '<p><a href="/methodology">Methodology: definitions, privacy protection and flags</a></p>'
    )
    return html_page(f"{title}: connection indicators", body)
