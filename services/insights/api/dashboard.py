"""The analysts' dashboard: pick an area and an indicator, see its trend and its table.

Served from stored releases only (``release_store``), like the API: looking spends no privacy
budget. A plain GET form picks what to show; the chart is server-side SVG; nothing runs in the
browser. Access is the API's (``access.may_read``): the analyst token as a bearer token, a
session cookie from the sign-in form, or nobody needs either when releases are public. A wrong
token is a 401, which the listener's authentication-failure throttle counts.

Everything a request controls is bounded: the parameters match patterns and name an area and
an indicator that exist; a chart holds at most the last 104 weeks or 26 periods.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.insights.adapters.release_store import (
    ValueFilter,
    count_values,
    list_areas,
    list_releases,
    read_values,
)
from services.insights.api.access import SESSION_COOKIE, SESSION_LENGTH, Sessions, bearer, may_read
from services.insights.api.dashboard_page import (
    CADENCE_LABELS,
    AreaChoice,
    DashboardView,
    Released,
    dashboard_page,
    sign_in_page,
)
from services.insights.api.releases import Sessions as Database
from services.insights.domain.indicators import INDICATORS, Cadence, Indicator, by_code

AREA_CHOICE = r"^(community|region):[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
INDICATOR_CODE = r"^[a-z0-9_]{1,48}$"
# The most periods one chart shows: two years of weeks, two years of 4-week periods.
MAX_POINTS = {Cadence.week: 104, Cadence.period: 26}
TOKEN_MAX_LENGTH = 512

_HTML: dict[str, Any] = {"content": {"text/html": {}}}
_PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {**_HTML, "description": "The dashboard, or the sign-in form without access."},
    401: {**_HTML, "description": "A bearer token that is not the analyst token."},
    404: {"description": "No such area or indicator."},
}
_SIGN_IN_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "Signed in: the session cookie is set; on to the dashboard."},
    401: {**_HTML, "description": "Not the analyst token: the form again."},
}


class DashboardQuery(BaseModel):
    area: str | None = Field(
        default=None,
        pattern=AREA_CHOICE,
        description="community:<id> or region:<code>; the first community by default.",
    )
    indicator: str | None = Field(
        default=None,
        pattern=INDICATOR_CODE,
        description="An indicator code of the catalogue; chronic loneliness by default.",
    )
    cadence: Literal["week", "period"] | None = Field(
        default=None,
        description="Weekly or 4-weekly releases; weekly where the indicator has them.",
    )


def _areas(
    communities: list[dict[str, object]], regions: list[dict[str, object]]
) -> list[AreaChoice]:
    return [
        AreaChoice("community", str(c["id"]), f"{c['name']} ({c['id']})") for c in communities
    ] + [
        AreaChoice("region", str(r["code"]), f"Region {r['code']} ({r['communities']} communities)")
        for r in regions
    ]


def _chosen_area(areas: list[AreaChoice], wanted: str | None) -> AreaChoice | None:
    if wanted is None:
        return areas[0] if areas else None
    found = next((area for area in areas if area.key == wanted), None)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such area")
    return found


def _chosen_indicator(wanted: str | None) -> Indicator:
    if wanted is None:
        return INDICATORS[0]
    found = by_code(wanted)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such indicator")
    return found


def _chosen_cadence(indicator: Indicator, wanted: str | None) -> tuple[Cadence, str | None]:
    """The cadence to show, and a notice when the one asked for is not released."""
    available = list(indicator.measures)
    if wanted is None:
        return (Cadence.week if Cadence.week in available else available[0]), None
    asked = Cadence(wanted)
    if asked in available:
        return asked, None
    shown = available[0]
    return shown, (
        f"{indicator.title} is not released {CADENCE_LABELS[asked]}: "
        f"showing its {CADENCE_LABELS[shown]} releases."
    )


async def _series(
    session: AsyncSession, area: AreaChoice, indicator: Indicator, cadence: Cadence
) -> list[Released]:
    """The last ``MAX_POINTS`` releases of ``cadence`` from the area's first value on, each
    with the area's stored value (None: that release left the area out)."""
    limit = MAX_POINTS[cadence]
    periods = [r.period for r in await list_releases(session) if r.cadence == cadence.value]
    periods = periods[-limit:]
    wanted = ValueFilter(
        area=area.area_id,
        area_type=area.area_type,
        cadence=cadence.value,
        indicator=indicator.code,
    )
    total = await count_values(session, wanted)
    rows = await read_values(session, wanted, max(total - limit, 0), limit)
    stored = {row.period: row for row in rows}
    first = next((index for index, period in enumerate(periods) if period in stored), None)
    if first is None:
        return []
    return [Released(period, stored.get(period)) for period in periods[first:]]


def dashboard_router(sessions: Sessions, public: bool) -> APIRouter:
    """The dashboard's routes for one analyst token (``sessions``) and access mode."""
    router = APIRouter(tags=["dashboard"])

    @router.get(
        "/dashboard",
        response_class=Response,
        responses=_PAGE_RESPONSES,
        summary="The dashboard (HTML)",
    )
    async def dashboard(
        request: Request,
        query: Annotated[DashboardQuery, Query()],
        database: Database,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Response:
        """Trend chart (95% interval band; withheld values as gaps with their flag) and a
        table of the released values of one area and indicator."""
        if not may_read(sessions, public, request, credentials):
            return sign_in_page(wrong_token=credentials is not None)
        indicator = _chosen_indicator(query.indicator)
        cadence, notice = _chosen_cadence(indicator, query.cadence)
        async with database() as session:
            areas = _areas(*await list_areas(session))
            area = _chosen_area(areas, query.area)
            series = [] if area is None else await _series(session, area, indicator, cadence)
        view = DashboardView(
            areas=areas,
            area=area,
            indicator=indicator,
            cadence=cadence,
            series=series,
            notice=notice,
            signed_in=not public and credentials is None,
        )
        return dashboard_page(view)

    @router.post(
        "/dashboard/sign-in",
        response_class=Response,
        status_code=status.HTTP_303_SEE_OTHER,
        responses=_SIGN_IN_RESPONSES,
        summary="Sign in to the dashboard with the analyst token",
    )
    async def sign_in(
        request: Request,
        token: Annotated[str, Form(max_length=TOKEN_MAX_LENGTH)] = "",
    ) -> Response:
        """Turns the analyst token into a session cookie (HttpOnly, SameSite=Strict, Secure
        over HTTPS), so the token itself is never kept by the browser."""
        if not sessions.token_matches(token):
            return sign_in_page(wrong_token=True)
        response = RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            SESSION_COOKIE,
            sessions.issue(),
            max_age=int(SESSION_LENGTH.total_seconds()),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post(
        "/dashboard/sign-out",
        response_class=Response,
        status_code=status.HTTP_303_SEE_OTHER,
        responses={303: {"description": "The session cookie is cleared."}},
        summary="Sign out of the dashboard",
    )
    async def sign_out(request: Request) -> Response:
        response = RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    return router
