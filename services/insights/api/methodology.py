"""The methodology page, generated from the indicator table and the configured disclosure
control: what is counted, from which questions, and how the numbers are protected."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.insights.domain.disclosure import epsilon_of, noise_scale
from services.insights.domain.indicators import INDICATORS, Cadence, Kind, for_cadence
from services.insights.handlers.release import METHOD_VERSION, ReleasePolicy
from shared.http.page_headers import page_security_headers

router = APIRouter(tags=["methodology"])

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.4rem;"
    "vertical-align:top;text-align:left}"
)


def _sigma(policy: ReleasePolicy, cadence: Cadence) -> float:
    counts = sum(indicator.counts for indicator in for_cadence(cadence))
    return noise_scale(policy.rho(cadence) / counts)


def methodology_html(policy: ReleasePolicy) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{i.number}</td><td>{escape(i.title)}<br><code>{i.code}</code></td>"
        f"<td>{escape(i.numerator)}</td><td>{escape(i.denominator or '—')}</td>"
        f"<td>{', '.join(c.value for c in i.measures)}</td>"
        f"<td>{escape(i.source)}{'' if i.validated else ' (not validated)'}"
        f"{(' ' + escape(i.note)) if i.note else ''}</td>"
        "</tr>"
        for i in INDICATORS
    )
    week, period = _sigma(policy, Cadence.week), _sigma(policy, Cadence.period)
    limit, days = policy.budget_limit, policy.budget_horizon.days
    rules = policy.thresholds
    kinds = {Kind.proportion: "percent", Kind.number: "people"}
    units = ", ".join(f"{i.code}: {kinds[i.kind]}" for i in INDICATORS)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Methodology: connection indicators</title><style>{_STYLE}</style></head><body>
<h1>Connection indicators: methodology</h1>
<p>Method version {METHOD_VERSION}. Figures are <strong>participant-reported</strong>: people
who chose to take part in check-ins and consented to contribute their answers. They are not a
probability sample, and not population prevalence.</p>
<h2>Indicators</h2>
<table><tr><th>#</th><th>Indicator</th><th>Numerator</th><th>Denominator</th><th>Released</th>
<th>Source</th></tr>{rows}</table>
<p>Units: {units}. Indicator 8 (wellbeing, WHO-5) is released for four-week periods, but its
five statements are asked on the e-mail answer form only, so it describes people who answer by
e-mail, who may differ from those who answer by text message (in age or internet access, for
instance).</p>
<h2>Periods and people</h2>
<p>Weekly releases are ISO weeks (2027-W01). The check-in asks one module of questions a week in
a four-week rotation, so the other releases are four-week periods aligned to it (2027-P01 is
ISO weeks 1-4; in a year with a week 53, P14 is that week alone). Each person counts at most
once per indicator per release: their latest answer. Insights never sees who anyone is: a
person has a different pseudonym each week and each period.</p>
<h2>Differential privacy</h2>
<p>Every count is released through the Gaussian mechanism of OpenDP under zero-concentrated
differential privacy, with one participant per release and community as the privacy unit. A
weekly release spends ρ = {policy.rho_week:g} per community (ε ≈
{epsilon_of(policy.rho_week):.2f} at δ = 10⁻⁶), shared by its counts: noise σ ≈ {week:.1f}
on each count. A four-week release spends ρ = {policy.rho_period:g} (ε ≈
{epsilon_of(policy.rho_period):.2f}): σ ≈ {period:.1f}. Each community has a budget of ρ =
{limit:g} over any {days} days (ε ≈ {epsilon_of(limit):.1f}): a release that would pass it leaves
the community out and says why. A year of weekly and four-weekly releases spends about
{52 * policy.rho_week + 13 * policy.rho_period:.2f}: the limit leaves room for the year and little
more. For scale: the US 2020 Census spent ρ ≈ 2.63 on its person tables.</p>
<p>Releases are computed once and stored; asking again returns the same numbers and spends
nothing, so noise cannot be averaged away. Region figures are the sums of the released
communities' noisy counts: no extra budget, no differencing route.</p>
<h2>Suppression, intervals and flags</h2>
<p>Decided on the noisy counts, never on the true ones. <strong>c</strong> (withheld): a
denominator below {rules.min_denominator} or a numerator below {rules.min_numerator} (for a
count: below {rules.min_numerator}). <strong>u</strong> (low reliability): a 95% interval wider
than ±{rules.max_halfwidth_points:g} points. Intervals are Wilson 95% intervals for the
proportion, widened by the noise (the variance of a ratio of two noisy counts); for a count, the
noise alone. The flags follow the UK statistical symbols.</p>
</body></html>"""


@router.get("/methodology", response_class=HTMLResponse, summary="How the figures are made")
async def methodology(request: Request) -> HTMLResponse:
    page: str = request.app.state.methodology
    return HTMLResponse(page, headers=page_security_headers(_STYLE))
