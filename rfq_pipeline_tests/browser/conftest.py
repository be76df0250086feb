"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven through Selenium.

Without the browser the tests are skipped, and the end of the run says so in a banner with the command that installs
it; with ``RFQ_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs the browser first) a missing browser fails
instead, so CI can never pass without having run them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL_HINT = "apt-get install chromium chromium-driver (Debian's packages; .ci/run does this before the suite)"
SKIP_MARK = "browser test did not run"


def _binary(name: str, env: str) -> str | None:
    configured = os.environ.get(env)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which(name)


def browser_missing() -> str | None:
    """Why no browser test can run here, or ``None``."""
    missing = [name for name, env in (("chromium", "RFQ_CHROMIUM"), ("chromedriver", "RFQ_CHROMEDRIVER"))
               if not _binary(name, env)]  # fmt: skip
    return f"{' and '.join(missing)} not found" if missing else None


@pytest.fixture()
def chromium(tmp_path: Path) -> Iterator[object]:
    """A headless Chromium session; skipped (or failed under ``RFQ_REQUIRE_BROWSER``) when the browser is missing."""
    reason = browser_missing()
    if reason:
        if os.environ.get("RFQ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run here but {reason}: {INSTALL_HINT}")
        pytest.skip(f"{SKIP_MARK}: {reason}; install with {INSTALL_HINT}")
    # Selenium must not try to download a driver or a browser: these machines have no internet.
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(_binary("chromium", "RFQ_CHROMIUM"))
    profile = tempfile.mkdtemp(prefix="rfq-chromium-", dir=tmp_path)
    # Without the background-networking switches Chromium keeps dialling Google's hosts, which a closed network
    # refuses; --no-sandbox because CI runs as root.
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(_binary("chromedriver", "RFQ_CHROMEDRIVER"))), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that the browser tests did not run, and how to make them run.

    Read from the skip reports rather than kept in this process: under pytest-xdist the tests run in workers and only
    their reports reach the process that prints the summary.
    """
    skipped = [
        str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        for report in terminalreporter.stats.get("skipped", [])
    ]
    reasons = [text for text in skipped if SKIP_MARK in text]
    if reasons:
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", yellow=True, bold=True)
        terminalreporter.write_line(f"{len(reasons)} browser test(s) skipped: {reasons[0]}")
