"""Real-browser test support: a live server in a thread and headless Debian Chromium.

Use the fixtures `live_server` (base URL of the running app) and `page` (a Playwright page).
Browser tests are skipped with a message when /usr/bin/chromium is missing, unless
HOTLINE_REQUIRE_BROWSER=1 (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def require_browser() -> None:
    """Skip (or fail under HOTLINE_REQUIRE_BROWSER=1) when Chromium is not installed."""
    if os.path.exists(CHROMIUM) or shutil.which(CHROMIUM):
        return
    message = (
        f"Chromium not found at {CHROMIUM}; install it (Debian: apt-get install -y chromium) "
        "or set HOTLINE_CHROMIUM to run the browser tests"
    )
    if os.environ.get("HOTLINE_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


class LiveServer:
    """A threaded werkzeug server running a WSGI app on a free loopback port."""

    def __init__(self, wsgi_app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, wsgi_app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def _playwright():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def chromium(_playwright):
    """One headless Chromium for the session."""
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def new_page(chromium):
    """Factory of fresh browser contexts (each its own cookies), closed after the test."""
    contexts = []

    def _new(locale: str = "zh-CN"):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A fresh page in its own browser context."""
    return new_page()


@pytest.fixture
def live_server(app):
    """The test app served on a real port (CSRF stays as configured by the test)."""
    server = LiveServer(app.wsgi_app).start()
    yield server
    server.stop()
