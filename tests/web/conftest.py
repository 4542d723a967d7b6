"""Fixtures for the browser tests: a live Chorus on a real socket and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from chorus.app import create_app
from chorus.config import FileConfig, ModelConfig, ProviderConfig, load_settings
from chorus.fakellm.server import FakeLLM
from tests.conftest import ServerThread, unavailable
from tests.web.browser import BROKEN_MODEL, CHROMIUM, CHROMIUM_ARGS, FAKE_MODEL, Live

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SIMULATED_SPEED = 0.5
"""Fast enough for a quick suite, slow enough that the page visibly streams."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium; absent browser skips locally and fails in CI.

    Per module: Playwright's sync API keeps an event loop running in this thread while it is
    open, and the async tests that follow need the thread to themselves.
    """
    if not CHROMIUM.exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("playwright", f"{exc} (pip install -e '.[web-test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def serve(tmp_path_factory: pytest.TempPathFactory, file: FileConfig) -> Iterator[Live]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('web')}/chorus.db"
    settings = load_settings(None, database_url=database_url, simulated_speed=SIMULATED_SPEED,
                             retry_backoff=0.01)
    settings.file = file
    with ServerThread(create_app(settings)) as server:
        yield Live(server.url, database_url)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Chorus serving the web app, with the built-in simulated models for test keys."""
    yield from serve(tmp_path_factory, FileConfig())


@pytest.fixture(scope="session")
def live_upstream(tmp_path_factory: pytest.TempPathFactory,
                  fake_server: tuple[ServerThread, FakeLLM]) -> Iterator[Live]:
    """Chorus whose live keys reach the fake upstream: an echoing model and a failing one."""
    upstream, _ = fake_server
    yield from serve(tmp_path_factory, FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{upstream.url}/v1", api_key="fake")],
        models=[ModelConfig(id=FAKE_MODEL, provider="fake", upstream="echo"),
                ModelConfig(id=BROKEN_MODEL, provider="fake", upstream="echo@fault=500")]))


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh wide page; a script error on it fails the test.

    Parametrize it (indirect) with context options: a viewport, a colour scheme, bypass_csp.
    """
    options: dict[str, Any] = getattr(request, "param", {})
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 860}, **options})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"

