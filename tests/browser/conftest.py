"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``.

One session-scoped fixture (``chromium``) makes sure both are installed, with apt-get and
``--no-install-recommends`` (about 130 MB) where they are missing; every browser test reuses
it. Nothing downloads a browser of its own: Selenium is pointed at ``/usr/bin/chromedriver``
and ``/usr/bin/chromium`` explicitly, so Selenium Manager never runs. With CI=true a browser
that cannot be installed fails the test (CI promises it); elsewhere the test skips, saying why.

The flags keep Chromium off the network (this machine has none, and without them it stalls
waiting for its own background services) and in a fresh profile per test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

PACKAGES = ("chromium", "chromium-driver")
BINARY = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root (CI, the developers' machines), the sandbox will not start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB: Chromium would crash in it
)
WINDOW = (1000, 1400)
APT_TIMEOUT_S = 900
# Another apt-get (another worktree's test run) may hold dpkg's lock: wait for it.
APT_LOCK_WAIT = ("-o", "DPkg::Lock::Timeout=600")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class Chromium:
    binary: Path
    driver: Path

    def options(self, profile: Path) -> Options:
        options = Options()
        options.binary_location = str(self.binary)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        # The console (a Content-Security-Policy violation shows there) for the tests to read.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        return options


def _installed() -> bool:
    return BINARY.is_file() and DRIVER.is_file()


def _install() -> str | None:
    """Install the packages; None when it worked, else why not."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available here (not Debian?)"
    if os.geteuid() != 0:
        return "installing Chromium with apt-get needs root"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", *APT_LOCK_WAIT, "update"],
        ["apt-get", *APT_LOCK_WAIT, "install", "-y", "--no-install-recommends", *PACKAGES],
    ):
        try:
            done = subprocess.run(
                command,
                env=environment,
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"{' '.join(command)} took longer than {APT_TIMEOUT_S} s"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            return f"{' '.join(command)} failed ({done.returncode}): {last}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """Chromium and its driver, installed once for the whole run if they are missing."""
    if not _installed():
        reason = _install()
        if reason is None and not _installed():
            reason = f"apt-get installed {' '.join(PACKAGES)} but not {BINARY} and {DRIVER}"
        if reason is not None:
            message = f"headless Chromium is not available: {reason}"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
    return Chromium(BINARY, DRIVER)


@pytest.fixture
def browser(chromium: Chromium, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium session (its own profile: no cookie from another test).

    Selenium blocks: a test whose server runs on its own event loop drives it from a worker
    thread (``asyncio.to_thread``)."""
    service = Service(executable_path=str(chromium.driver), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(service=service, options=chromium.options(tmp_path / "profile"))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
