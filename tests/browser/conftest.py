"""Browser fixtures: the app served for real on a free port, a headless Chromium, screenshots."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server

from config import REPO_ROOT
from decisionflow.bootstrap import Parts, build
from tests.conftest import IN_CI, PASSWORD, Clock, People, make_people, settings_for
from web import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
# No downloads, no background traffic: the machine may be offline (as intranets are).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"


def _unavailable() -> str | None:
    """None if a browser can be driven here, else why not."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian package `chromium`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"the Python package playwright is not installed ({err})"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run (the system's, never a downloaded one)."""
    problem = _unavailable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem}: CI requires the browser tests", pytrace=False)
        pytest.skip(f"{problem}: skipping the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class LiveServer:
    """The app served over HTTP, with the engine, people and clock behind it."""

    url: str
    parts: Parts
    people: People
    clock: Clock


@pytest.fixture
def live_server(sqlite_url: str, tmp_path: Path, password_hash: str) -> Iterator[LiveServer]:
    """The real app on a fresh migrated SQLite file, served on 127.0.0.1 on a free port."""
    clock = Clock()
    parts = build(settings_for(sqlite_url, tmp_path / "instance"), clock=clock)
    people = make_people(parts, password_hash)
    app = create_app({"DECISIONFLOW_SETTINGS": parts.settings, "DECISIONFLOW_PARTS": parts})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", parts, people, clock)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        parts.dispose()


@dataclass
class Screenshots:
    """Full-page screenshots of the key pages, numbered in the order the test took them."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, step: str, *, part: Locator | None = None) -> Path:
        """Save the page (or only its `part`) as NN-step.png."""
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        if part is not None:
            part.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def screenshots() -> Screenshots:
    """Where the key pages are saved (test-artifacts/ is git-ignored), emptied first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return Screenshots(SCREENSHOTS)


class Browsers:
    """One browser context per person (their own cookies), signed in through the real form."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.browser = browser
        self.server = server
        self.contexts: dict[str, BrowserContext] = {}
        self.pages: dict[str, Page] = {}

    def anonymous(self, name: str = "public") -> Page:
        """A page of a fresh context with no session at all: a member of the public."""
        return self._open(name)

    def signed_in(self, username: str) -> Page:
        """The page of `username`, signing them in with the login form the first time."""
        if username in self.pages:
            return self.pages[username]
        page = self._open(username)
        page.goto(f"{self.server.url}/login")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(PASSWORD)
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        assert page.url == f"{self.server.url}/work", f"{username} could not sign in"
        return page

    def _open(self, name: str) -> Page:
        context = self.browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="zh-CN"
        )
        context.set_default_timeout(15_000)
        self.contexts[name] = context
        self.pages[name] = context.new_page()
        return self.pages[name]

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    # Keep the call's outcome on the item, so that `browsers` can photograph a failure.
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def browsers(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Browsers]:
    """Everyone's browser pages; on failure, each page is saved as failure-<who>.png."""
    opened = Browsers(browser, live_server)
    try:
        yield opened
    finally:
        if request.node.stash.get(FAILED, False):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for who, page in opened.pages.items():
                # a crashed page must not hide the test's own failure
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(SCREENSHOTS / f"failure-{who}.png"), full_page=True)
        opened.close()
