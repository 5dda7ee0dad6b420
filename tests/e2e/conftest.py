"""Browser tests: Debian's Chromium under Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium(monkeypatch):
    """Debian's Chromium under Playwright (its own browser download cannot work here)."""
    if not CHROMIUM.exists():
        message = "Chromium is missing: apt-get install chromium (.ci/run installs it)"
        if os.environ.get("REQUIRE_FAULT_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # meanwhile are plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Under Playwright the test's ORM calls got their own connection (its event loop
        # gives them another context); close it, or PostgreSQL can't drop the test database.
        connections.close_all()
