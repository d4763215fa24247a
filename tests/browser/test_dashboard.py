"""The dashboard in a real browser (issue 8's acceptance): headless Chromium signs in through the
form, picks an area and an indicator, and sees the chart (line, interval band, a withheld point
as a gap marked c, the legend) and the table of the stored values, with the page's own strict
policy in force. A screenshot is kept in the test's temporary directory."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.demo.system import LocalSystem
from tests.browser.waits import left_behind
from tests.integration.dashboard.stored_releases import (
    RIVERSIDE,
    RIVERSIDE_WEEKS,
    WEEKS,
    expected_table,
    insights_database,
    store_example,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Seen:
    """What the browser found on the page, read in its worker thread."""

    url: str
    cookie: dict[str, object]
    chart_title: str
    bands: list[tuple[int, int]]  # rendered width and height of each band
    line_points: list[str]
    gaps: list[tuple[str, str, str]]  # (period, flag, the mark's text)
    unreliable: list[str]  # periods marked u
    legend: str
    rows: list[list[str]]
    body_max_width: str
    console_errors: list[str]
    viewport: tuple[int, int]
    screenshot: Path


def sign_in_and_look(driver: webdriver.Chrome, base: str, token: str, shots: Path) -> Seen:
    """Blocking: runs in a worker thread while the test's event loop serves the system."""
    driver.get(f"{base}/dashboard")
    driver.find_element(By.ID, "token").send_keys(token)
    sign_in = driver.find_element(By.CSS_SELECTOR, "form[action='/dashboard/sign-in'] button")
    sign_in.click()
    # Wait for the next page before touching it: an element of the old one goes stale.
    WebDriverWait(driver, 10).until(left_behind(sign_in))
    # Signed in: the picker. Choose Riverside's weekly chronic loneliness, as a person would.
    Select(driver.find_element(By.ID, "area")).select_by_value(f"community:{RIVERSIDE}")
    Select(driver.find_element(By.ID, "indicator")).select_by_value("chronic_loneliness")
    Select(driver.find_element(By.ID, "cadence")).select_by_value("week")
    pick = driver.find_element(By.CSS_SELECTOR, "form.pick button")
    pick.click()
    WebDriverWait(driver, 10).until(left_behind(pick))

    chart = driver.find_element(By.CSS_SELECTOR, "svg.trend")
    gaps = driver.find_elements(By.CSS_SELECTOR, "svg.trend g.gap")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.values tbody tr")
    cookie = driver.get_cookie("insights_session") or {}
    screenshot = shots / "dashboard.png"  # kept with the test's temporary files
    assert driver.save_screenshot(str(screenshot))
    return Seen(
        url=driver.current_url,
        cookie={key: cookie.get(key) for key in ("httpOnly", "sameSite", "secure", "path")},
        chart_title=chart.find_element(By.TAG_NAME, "title").get_attribute("textContent") or "",
        bands=[
            (band.size["width"], band.size["height"])
            for band in chart.find_elements(By.CSS_SELECTOR, "polygon.band")
        ],
        line_points=[
            line.get_attribute("points") or ""
            for line in chart.find_elements(By.CSS_SELECTOR, "polyline.value-line")
        ],
        gaps=[
            (
                gap.get_attribute("data-period") or "",
                gap.get_attribute("data-flag") or "",
                gap.find_element(By.TAG_NAME, "text").text,
            )
            for gap in gaps
        ],
        unreliable=[
            point.get_attribute("data-period") or ""
            for point in chart.find_elements(By.CSS_SELECTOR, "g.point.unreliable")
        ],
        legend=chart.find_element(By.CSS_SELECTOR, "g.legend").text,
        rows=[[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows],
        # The inline stylesheet applies (its hash is in the policy): 52rem.
        body_max_width=str(
            driver.execute_script("return getComputedStyle(document.body).maxWidth")
        ),
        # A policy violation (a blocked style or resource) is logged to the console as SEVERE.
        console_errors=[
            entry["message"]
            for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]  # untyped
            if entry["level"] == "SEVERE"
        ],
        viewport=tuple(driver.execute_script("return [innerWidth, innerHeight]")),
        screenshot=screenshot,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


@pytest.mark.timeout(900)  # the first browser test of a run may install Chromium (apt-get)
async def test_an_analyst_signs_in_and_sees_the_trend_with_its_band_gaps_and_table(
    system: LocalSystem, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    async with insights_database(system.database_for) as sessions:
        await store_example(sessions)

    seen = await asyncio.to_thread(
        sign_in_and_look,
        browser,
        system.url("insights-analyst"),
        system.tokens["insights-analyst"],
        tmp_path,
    )

    assert seen.url.endswith(
        "/dashboard?area=community%3Ariverside&indicator=chronic_loneliness&cadence=week"
    )
    assert seen.cookie == {"httpOnly": True, "sameSite": "Strict", "secure": False, "path": "/"}
    assert seen.chart_title == "Chronic loneliness, Riverside (riverside), weekly"
    # W01-W02 and W05-W06 are published; the line and its band break at W03 (c) and W04 (x).
    assert len(seen.line_points) == 2
    assert len(seen.bands) == 2
    assert all(width > 20 and height > 5 for width, height in seen.bands)
    assert seen.gaps == [("2027-W03", "c", "c"), ("2027-W04", "x", "x")]
    assert seen.unreliable == ["2027-W02"]
    assert "c: withheld" in seen.legend
    assert "u: low reliability" in seen.legend
    assert "95% interval" in seen.legend
    # The table: newest first, each stored value as released (W04 left Riverside out).
    stored = {value.period: value for value in RIVERSIDE_WEEKS}
    assert seen.rows == expected_table(stored, WEEKS)
    # The strict policy let the page's own stylesheet through, and blocked nothing it needs.
    assert seen.body_max_width == "832px"
    assert seen.console_errors == []
    # A real picture of it: a PNG of the whole window, not a blank one.
    assert png_size(seen.screenshot) == seen.viewport
    assert min(seen.viewport) >= 800
    assert seen.screenshot.stat().st_size > 30_000
