"""The admin's whole path in a real (headless) browser: Debian's chromium driven by selenium.

``authorize`` starts, prints the consent URL; the browser opens it and the admin clicks Approve
(or Deny); the browser follows Zoom's redirect to the listener and shows the outcome. After
Approve the tap syncs on the stored token. No browser is downloaded: selenium uses
/usr/bin/chromedriver (installed by ``make test``); when it is missing this test fails.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tap_zoom_defender.errors import EXIT_AUTH

from .helpers import Authorize, authorize_config, records, run_sync

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Headless chromium with a fresh profile; the system's driver, never Selenium Manager."""
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).is_file(), f"{path} is missing: run `make test` (it installs it)"
    os.environ["SE_OFFLINE"] = "true"  # belt and braces: no driver download, ever
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _click(browser: webdriver.Chrome, consent_url: str, button: str) -> str:
    """Open the consent page, click a button, return the text of the page it ends on."""
    browser.get(consent_url)
    assert "Allow this app" in browser.title
    browser.find_element(By.ID, button).click()
    WebDriverWait(browser, 30).until(expected_conditions.title_contains("Zoom is"))
    return browser.find_element(By.TAG_NAME, "body").text


def test_approve_in_the_browser_then_the_tap_syncs(tmp_path, zoom_app, browser):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    page = _click(browser, run.consent_url(), "approve")
    done = run.finish()

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.connected and not done.error_lines()
    assert "Zoom is connected" in page
    store = Path(config["token_store_path"])
    assert stat.S_IMODE(store.stat().st_mode) == 0o600

    sync, messages = run_sync(tmp_path, config)
    assert sync.returncode == 0, sync.stderr[-3000:]
    users = {user["id"] for user in records(messages, "users")}
    assert users == {user["id"] for user in zoom_app.sb.ground_truth("users")}
    assert records(messages, "activities") and records(messages, "operation_logs")


def test_deny_in_the_browser_is_one_clear_error(tmp_path, zoom_app, browser):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    page = _click(browser, run.consent_url(), "deny")
    done = run.finish()

    assert done.returncode == EXIT_AUTH
    line = done.one_error()
    assert "denied" in line and "run authorize again" in line
    assert "Zoom is not connected" in page and "denied" in page
    assert not done.connected
    assert not Path(config["token_store_path"]).exists()
