"""The members' pages in a real browser (issue 12): headless Chromium opens the answer form from
a prompt's one-tap link and the preferences page from the prompt's preferences link, fills both
with the keyboard only (arrow keys in radio groups, typing into the time fields, Enter on the
button; the ritual offers two times of day, so the page shows that choice too) under the pages'
strict policy, and the choices land in the notifier. The screenshots
go to ``docs/screenshots/`` (committed; README's "Members' experience" shows them)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from services.demo.scenario import ANCHOR_ITEM, Person, answer_links, set_up_weekly_check_in
from services.demo.system import LocalSystem
from services.notifier.adapters.contacts import Contacts
from shared.contracts import RitualChoice
from tests.browser.test_dashboard import png_size
from tests.browser.waits import left_behind

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person(
    "Ana", "ana@riverside.example", "Europe/London", True, phone="+447911123450", fallback="sms"
)
RITUAL = "riverside-monday"
PREFERENCES_LINK = re.compile(r"https?://\S+/p/[A-Za-z0-9_.-]+")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass(frozen=True)
class Seen:
    answer_thanks: str
    saved_notice: str
    checked: dict[str, str]  # radio group -> the checked value, after saving
    quiet: tuple[str, str]
    console_errors: list[str]
    shots: tuple[Path, Path]


def _submit(driver: webdriver.Chrome, button: WebElement) -> None:
    """Enter on the focused button, as a keyboard user does; wait for the next page."""
    button.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(left_behind(button))


def answer_and_choose(driver: webdriver.Chrome, answer_url: str, preferences_url: str) -> Seen:
    """Blocking: runs in a worker thread while the test's event loop serves the system."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    answer_shot = SCREENSHOTS / "answer-page.png"
    preferences_shot = SCREENSHOTS / "preferences-page.png"

    driver.get(answer_url)  # the one-tap link chose "2": the form shows it chosen
    chosen = driver.find_element(By.CSS_SELECTOR, f"input[name='{ANCHOR_ITEM}']:checked")
    chosen.send_keys(Keys.ARROW_DOWN)  # the keyboard moves the choice to the next answer
    assert driver.save_screenshot(str(answer_shot))
    _submit(driver, driver.find_element(By.CSS_SELECTOR, "form button[type='submit']"))
    answer_thanks = driver.find_element(By.TAG_NAME, "h1").text

    driver.get(preferences_url)
    driver.find_element(By.ID, f"ritual-{RITUAL}-active").send_keys(Keys.ARROW_DOWN)  # pause
    # The ritual offers two times of day; the keyboard moves from the default to the evening.
    driver.find_element(By.ID, f"slot-{RITUAL}-09:00").send_keys(Keys.ARROW_DOWN)
    driver.find_element(By.ID, "channel-email").send_keys(Keys.ARROW_DOWN)  # SMS
    # Typed as a person types into the time field of Chromium's default en-US locale (hour,
    # minute, AM/PM): 10:00 PM to 07:30 AM.
    for ident, keys in (("quiet_start", "1000P"), ("quiet_end", "0730A")):
        driver.find_element(By.ID, ident).send_keys(keys)
    _submit(driver, driver.find_element(By.CSS_SELECTOR, "form button[type='submit']"))
    saved_notice = driver.find_element(By.CSS_SELECTOR, "[role='status']").text
    checked = {
        str(radio.get_attribute("name")): str(radio.get_attribute("value"))
        for radio in driver.find_elements(By.CSS_SELECTOR, "input[type='radio']:checked")
    }
    quiet = (
        str(driver.find_element(By.ID, "quiet_start").get_attribute("value")),
        str(driver.find_element(By.ID, "quiet_end").get_attribute("value")),
    )
    assert driver.save_screenshot(str(preferences_shot))
    return Seen(
        answer_thanks=answer_thanks,
        saved_notice=saved_notice,
        checked=checked,
        quiet=quiet,
        # A policy violation (a blocked style or resource) is logged to the console as SEVERE.
        console_errors=[
            entry["message"]
            for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]  # untyped
            if entry["level"] == "SEVERE"
        ],
        shots=(answer_shot, preferences_shot),
    )


@pytest.mark.timeout(900)  # the first browser test of a run may install Chromium (apt-get)
async def test_a_member_answers_and_pauses_a_ritual_with_the_keyboard_alone(
    system: LocalSystem, browser: webdriver.Chrome
) -> None:
    community = await set_up_weekly_check_in(system, (ANA,), time_slots=["09:00", "18:00"])
    await system.advance_to(MONDAY_0900)
    (mail,) = await system.smtp.wait_for(1)
    (preferences_url,) = set(PREFERENCES_LINK.findall(mail.text()))

    seen = await asyncio.to_thread(
        answer_and_choose, browser, answer_links(mail)[2], preferences_url
    )

    assert seen.answer_thanks == "Thank you"
    assert seen.saved_notice == "Your choices are saved."
    assert seen.checked == {
        f"ritual-{RITUAL}": "paused",
        f"slot-{RITUAL}": "18:00",
        "channel": "sms",
        "language": "en",
    }
    assert seen.quiet == ("22:00", "07:30")
    assert seen.console_errors == []
    for shot in seen.shots:
        assert min(png_size(shot)) >= 800  # the whole window
        assert shot.stat().st_size > 20_000  # a real page, not a blank one
    member_id = community.member_ids[ANA.email]
    async with system.runtimes["notifier"].plumbing.sessions() as session:
        contacts = Contacts(session, default_quiet_hours=None)
        record = await contacts.record(member_id)
        choices = await contacts.ritual_choices(member_id)
        slots = await contacts.chosen_time_slots(member_id)
        trail = await contacts.consent_trail(member_id)
    assert record is not None
    assert (record.preferred_channel, record.quiet_start, record.quiet_end) == (
        "sms",
        "22:00",
        "07:30",
    )
    assert choices == {RITUAL: RitualChoice.paused}
    assert slots == {RITUAL: "18:00"}
    assert [entry.kind for entry in trail[2:]] == ["ritual", "time_slot", "channel", "quiet_hours"]
