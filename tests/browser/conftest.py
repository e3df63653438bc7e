"""Playwright driving the system Chromium (Debian package `chromium`; no browser download is possible)."""

import os
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIServer
from django.test.testcases import LiveServerThread

CHROMIUM = os.environ.get("TRIALDOCS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]



class SerialWSGIServer(WSGIServer):
    """The live server answers one request at a time. On SQLite its threads share the test's one in-memory
    connection, and two requests at once (a page load and the editor's release beacon, say) broke each other's
    savepoints ("no such savepoint", then a 503). Django closes each connection after its answer when the server
    is not threaded, so a browser's keep-alive cannot hold the server."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)  # the override is installed by LiveServerThread.run, in this thread


LiveServerThread.server_class = SerialWSGIServer


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (.ci/run does).")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_page(chromium):
    """Open pages in fresh browser contexts (one per user), all closed when the test ends, so no page left open
    keeps talking to the live server during the next test.

    Every browser test also checks the Content-Security-Policy (issue 12): Chromium reports each refused script,
    style, frame or image on the console, and any such report fails the test that met it."""
    contexts, violations = [], []

    def watch(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def open_page(width=1200, height=800):
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
        contexts.append(context)
        context.on("console", watch)
        page = context.new_page()
        page.set_default_timeout(30000)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def screenshot(page, screenshot_dir):

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
