"""Signing in when the server refuses for a reason other than the key: say why, keep the key."""

from __future__ import annotations

import httpx2 as httpx

from tests.web.browser import Live, Page, expect


def exhaust_rate_limit(live: Live, key: str) -> str:
    """Spend the key's requests for this minute; the server's message for the next one."""
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=live.url, headers=headers) as client:
        for _ in range(10_000):
            response = client.get("/v1/sessions?limit=1")
            if response.status_code == 429:
                message: str = response.json()["error"]["message"]
                return message
            assert response.status_code == 200, response.text
    raise AssertionError("no rate limit was reached")


def test_a_rate_limited_key_is_kept_and_the_servers_message_shown(page: Page, live: Live
                                                                   ) -> None:
    key = live.key()
    message = exhaust_rate_limit(live, key)
    assert "rate limit" in message
    page.goto(live.url + "/")
    page.evaluate("key => localStorage.setItem('chorus.apiKey', key)", key)
    page.reload()
    error = page.locator("#signin-error")
    expect(page.locator("#signin")).to_be_visible()
    expect(error).to_contain_text("rate limit of")
    expect(error).not_to_contain_text("could not be reached")
    expect(page.locator("#signin-key")).to_have_value(key)
    assert page.evaluate("localStorage.getItem('chorus.apiKey')") == key
    # Trying again from the form while still limited: the same message, the key still there.
    page.evaluate("document.querySelector('#signin-error').textContent = ''")
    page.click("#signin-form button[type=submit]")
    expect(error).to_contain_text("rate limit of")
    expect(error).not_to_contain_text("not accepted")
    expect(page.locator("#signin-key")).to_have_value(key)
    assert page.evaluate("localStorage.getItem('chorus.apiKey')") == key
