"""Waiting for a page to be replaced, as Chromium reports it."""

from __future__ import annotations

from collections.abc import Callable

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webelement import WebElement


def left_behind(element: WebElement) -> Callable[[webdriver.Chrome], bool]:
    """The page ``element`` was on has been replaced. Selenium's ``staleness_of`` knows only
    its stale-element error; Chromium sometimes answers for a node of the old page with
    "Node with given id does not belong to the document" instead (failed a CI run)."""

    def check(_driver: webdriver.Chrome) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return check
