"""Who sees the dashboard: the sign-in form and its cookie, bearer tokens, public mode, the
throttle on wrong tokens, and the headers every page carries."""

from __future__ import annotations

import base64
import hashlib
from http.cookies import SimpleCookie

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.api.app import create_operator_api
from services.insights.settings import InsightsSettings
from shared.clock import ManualClock
from shared.settings import Environment
from tests.integration.dashboard.conftest import ANALYST_TOKEN, Client
from tests.integration.dashboard.html_tree import parse

pytestmark = pytest.mark.database

WRONG_TOKEN = "not-the-analyst-token-but-close-9Zx"
SESSION_COOKIE = "insights_session"
# A value only the example's releases hold: it must not show before sign-in.
RIVERSIDE_W01 = "24.2%"
RIVERSIDE = "/dashboard?area=community:riverside&indicator=chronic_loneliness&cadence=week"


def is_sign_in_form(page: httpx.Response) -> bool:
    forms = parse(page.text).find_all("form")
    return any(
        form.attrs.get("action") == "/dashboard/sign-in"
        and form.attrs.get("method") == "post"
        and any(field.attrs.get("name") == "token" for field in form.find_all("input"))
        for form in forms
    )


def shows_data(page: httpx.Response) -> bool:
    return "<svg" in page.text or "<table" in page.text or RIVERSIDE_W01 in page.text


def cookie_attributes(set_cookie: str) -> dict[str, str | bool]:
    morsel = SimpleCookie(set_cookie)[SESSION_COOKIE]
    return {key: morsel[key] for key in ("httponly", "samesite", "secure", "path", "max-age")}


async def test_without_access_the_dashboard_is_a_sign_in_form_and_shows_nothing(
    analysts: Client,
) -> None:
    async with analysts() as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200
        assert is_sign_in_form(page)
        assert not shows_data(page)
        # Any area and indicator: still only the form.
        page = await http.get("/dashboard?area=community:riverside&indicator=belonging")
        assert is_sign_in_form(page)
        assert not shows_data(page)
        # A forged or expired session cookie opens nothing either.
        http.cookies.set(SESSION_COOKIE, "4102444800.deadbeef")
        assert is_sign_in_form(await http.get("/dashboard"))
        # The API behind it says 401, as before.
        assert (await http.get("/v1/values")).status_code == 401


async def test_signing_in_sets_a_strict_session_cookie_and_never_echoes_the_token(
    analysts: Client,
) -> None:
    async with analysts() as http:
        wrong = await http.post("/dashboard/sign-in", data={"token": WRONG_TOKEN})
        assert wrong.status_code == 401
        assert is_sign_in_form(wrong)
        assert "not accepted" in wrong.text
        assert WRONG_TOKEN not in wrong.text
        assert "set-cookie" not in wrong.headers
        assert not shows_data(wrong)

        signed_in = await http.post("/dashboard/sign-in", data={"token": ANALYST_TOKEN})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/dashboard"
        assert ANALYST_TOKEN not in signed_in.text
        set_cookie = signed_in.headers["set-cookie"]
        assert ANALYST_TOKEN not in set_cookie
        assert cookie_attributes(set_cookie) == {
            "httponly": True,
            "samesite": "strict",
            "secure": "",  # served over plain HTTP: a Secure cookie would never come back
            "path": "/",
            "max-age": str(12 * 3600),
        }
        page = await http.get(RIVERSIDE)
        assert page.status_code == 200
        assert shows_data(page)
        assert RIVERSIDE_W01 in page.text
        assert ANALYST_TOKEN not in page.text
        # Signed in through the form: a sign-out button.
        assert parse(page.text).find_all("form")[0].attrs["action"] == "/dashboard/sign-out"

        signed_out = await http.post("/dashboard/sign-out")
        assert signed_out.status_code == 303
        assert SimpleCookie(signed_out.headers["set-cookie"])[SESSION_COOKIE]["max-age"] == "0"
        assert SESSION_COOKIE not in http.cookies
        assert is_sign_in_form(await http.get("/dashboard"))


async def test_over_https_the_cookie_is_secure(analysts: Client) -> None:
    async with analysts(base_url="https://insights.test") as http:
        signed_in = await http.post("/dashboard/sign-in", data={"token": ANALYST_TOKEN})
        assert signed_in.status_code == 303
        assert cookie_attributes(signed_in.headers["set-cookie"])["secure"] is True
        assert shows_data(await http.get("/dashboard"))


async def test_the_analyst_token_as_a_bearer_token_opens_the_dashboard_and_a_wrong_one_is_401(
    analysts: Client,
) -> None:
    async with analysts() as http:
        page = await http.get("/dashboard", headers={"Authorization": f"Bearer {ANALYST_TOKEN}"})
        assert page.status_code == 200
        assert shows_data(page)
        assert "/dashboard/sign-out" not in page.text  # no session to end
        wrong = await http.get("/dashboard", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        assert wrong.status_code == 401
        assert is_sign_in_form(wrong)
        assert WRONG_TOKEN not in wrong.text
        assert not shows_data(wrong)


async def test_wrong_tokens_on_the_form_count_towards_the_throttle(analysts: Client) -> None:
    async with analysts(auth_failure_limit=3) as http:
        statuses = [
            (await http.post("/dashboard/sign-in", data={"token": WRONG_TOKEN})).status_code
            for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 401, 429]
        # Blocked: even the right token waits, so guessing gains nothing from trying on.
        right = await http.post("/dashboard/sign-in", data={"token": ANALYST_TOKEN})
        assert right.status_code == 429
        assert "retry-after" in right.headers


async def test_public_mode_needs_no_sign_in(analysts: Client) -> None:
    async with analysts(public_releases=True) as http:
        page = await http.get(RIVERSIDE)
        assert page.status_code == 200
        assert shows_data(page)
        assert RIVERSIDE_W01 in page.text
        assert not is_sign_in_form(page)
        assert "/dashboard/sign-out" not in page.text


def style_hash(page: httpx.Response) -> str:
    (style,) = parse(page.text).find_all("style")
    return base64.b64encode(hashlib.sha256(style.text().encode()).digest()).decode()


@pytest.mark.parametrize("signed_in", [False, True])
async def test_pages_carry_a_strict_policy_that_runs_no_script_and_loads_nothing(
    analysts: Client, signed_in: bool
) -> None:
    async with analysts() as http:
        if signed_in:
            await http.post("/dashboard/sign-in", data={"token": ANALYST_TOKEN})
        pages = [await http.get("/dashboard")]
        pages.append(await http.post("/dashboard/sign-in", data={"token": WRONG_TOKEN}))
    for page in pages:
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == (
            f"default-src 'none'; style-src 'sha256-{style_hash(page)}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        tree = parse(page.text)
        assert not tree.find_all("script")
        assert not [e for e in tree.find_all() if "style" in e.attrs]  # the policy would block it
        # Nothing from elsewhere: the only absolute URL is the SVG namespace.
        assert page.text.replace("http://www.w3.org/2000/svg", "").count("http") == 0


async def test_the_dashboard_is_only_on_the_analysts_listener(
    example: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    settings = InsightsSettings(
        environment=Environment.dev,
        database_url="sqlite+aiosqlite://",
        operator_token=SecretStr(ANALYST_TOKEN),
    )
    operators = create_operator_api(settings, example, clock, {})
    transport = httpx.ASGITransport(app=operators)
    async with httpx.AsyncClient(transport=transport, base_url="http://operators.test") as http:
        for method, path in (
            ("GET", "/dashboard"),
            ("POST", "/dashboard/sign-in"),
            ("POST", "/dashboard/sign-out"),
        ):
            answer = await http.request(
                method, path, headers={"Authorization": f"Bearer {ANALYST_TOKEN}"}
            )
            assert (method, path, answer.status_code) == (method, path, 404)
