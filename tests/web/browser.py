"""Helpers for the browser tests: the live server's database, signing in, watching a stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chorus import auth
from chorus.store import Store
from chorus.store.db import create_engine
from chorus.types import JSON
from tests.conftest import IN_CI

try:
    from playwright.sync_api import Page, expect
except ImportError:
    if IN_CI:
        raise
    pytest.skip("playwright is not installed (the web-test extra)", allow_module_level=True)

__all__ = ["Page", "expect"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
FAKE_MODEL = "fake-echo"
"""A live-key model served by the fake upstream, which echoes the question back."""
BROKEN_MODEL = "fake-broken"
"""A live-key model whose upstream always answers 500."""

T = TypeVar("T")


@dataclass
class Live:
    """A Chorus server on a real socket, and direct access to its database."""

    url: str
    database_url: str

    def store(self, work: Callable[[Store], Awaitable[T]]) -> T:
        """Run `work` against the server's database from the test's thread."""
        async def run() -> T:
            engine = create_engine(self.database_url)
            try:
                return await work(Store.over(engine))
            finally:
                await engine.dispose()

        # Playwright's sync API owns this thread's event loop, so the work gets a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()

    def user_key(self, tier: str = "power", test: bool = True) -> tuple[str, str]:
        """A new user and a key of theirs: (user id, secret)."""
        async def make(store: Store) -> tuple[str, str]:
            user = await store.users.ensure(f"web-{uuid.uuid4().hex[:10]}", tier)
            secret = auth.new_secret(test)
            await store.users.add_key(user.id, "browser", auth.display_prefix(secret),
                                      auth.digest(secret), test)
            return user.id, secret

        return self.store(make)

    def key(self, tier: str = "power", test: bool = True) -> str:
        return self.user_key(tier, test)[1]

    def sessions(self, user_id: str, titles: list[str], answer: str = "An answer.",
                 details: JSON | None = None) -> list[str]:
        """Stored smart_chat sessions, one question and answer each, oldest first."""
        async def make(store: Store) -> list[str]:
            ids = []
            for title in titles:
                session = await store.sessions.create(user_id, title, "smart_chat", None)
                await store.sessions.add_message(session.id, "user", title)
                await store.sessions.add_message(
                    session.id, "assistant", answer, models_used=["gpt-4o-mini"],
                    details=details or {"routed_to": "gpt-4o-mini", "reason": "stored"})
                ids.append(session.id)
            return ids

        return self.store(make)

    def session_titles(self, user_id: str) -> list[str]:
        async def read(store: Store) -> list[str]:
            rows, _ = await store.sessions.page(user_id, 100, 0)
            return [row.title for row in rows]

        return self.store(read)


def sign_in(page: Page, live: Live, key: str) -> None:
    """Open the app with `key` already stored, as after a sign-in."""
    page.goto(live.url + "/")
    page.evaluate("key => localStorage.setItem('chorus.apiKey', key)", key)
    page.reload()
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_selector("#mode-options > *")


WATCH = """() => {
  window.__watch = [];
  const root = document.querySelector('#conversation');
  const observer = new MutationObserver(() => {
    const answers = root.querySelectorAll('.answer');
    const answer = answers[answers.length - 1];
    if (!answer) return;
    window.__watch.push({
      status: answer.dataset.status,
      length: answer.querySelector('.final-text').textContent.length,
      members: [...answer.querySelectorAll('.member')].map(m => [m.dataset.status,
                                                                 m.textContent.length]),
    });
  });
  observer.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def send_and_watch(page: Page, text: str, timeout_ms: float = 30_000) -> list[dict[str, Any]]:
    """Send `text`, wait for the answer to settle; what the page showed along the way."""
    page.evaluate(WATCH)
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")
    last = page.locator(".answer").last
    last.and_(page.locator(".answer[data-status=done], .answer[data-status=failed]")).wait_for(
        timeout=timeout_ms)
    frames: list[dict[str, Any]] = page.evaluate("window.__watch")
    return frames


def grew_while_streaming(lengths: list[int], final: int) -> bool:
    """The text was seen at several partial lengths before it was complete."""
    partial = {n for n in lengths if 0 < n < final}
    return len(partial) >= 3


def screenshot(page: Page, name: str, from_question: bool = True) -> Path:
    """Save the viewport under test-artifacts/web/, scrolled to the last question."""
    if from_question and page.locator(".turn-user").count():
        page.locator(".turn-user").last.evaluate("node => node.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
